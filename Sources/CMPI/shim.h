#ifndef TRAINER_CMPI_SHIM_H
#define TRAINER_CMPI_SHIM_H
#include <mpi.h>
/* Open MPI handles are macros over globals that Swift cannot import: expose them as functions. */
static inline MPI_Comm trainer_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Comm trainer_mpi_comm_null(void) { return MPI_COMM_NULL; }
static inline MPI_Datatype trainer_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype trainer_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype trainer_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype trainer_mpi_int(void) { return MPI_INT; }
static inline MPI_Datatype trainer_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Datatype trainer_mpi_char(void) { return MPI_CHAR; }
static inline MPI_Op trainer_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op trainer_mpi_max(void) { return MPI_MAX; }
static inline MPI_Op trainer_mpi_min(void) { return MPI_MIN; }
static inline void *trainer_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Request trainer_mpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline MPI_Status *trainer_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline MPI_Status *trainer_mpi_statuses_ignore(void) { return MPI_STATUSES_IGNORE; }
static inline MPI_Info trainer_mpi_info_null(void) { return MPI_INFO_NULL; }
static inline int trainer_mpi_comm_type_shared(void) { return MPI_COMM_TYPE_SHARED; }
static inline int trainer_mpi_success(void) { return MPI_SUCCESS; }
static inline int trainer_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline int trainer_mpi_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
static inline MPI_Errhandler trainer_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline int trainer_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
static inline MPI_Win trainer_mpi_win_null(void) { return MPI_WIN_NULL; }
static inline int trainer_mpi_mode_nocheck(void) { return MPI_MODE_NOCHECK; }
#endif
