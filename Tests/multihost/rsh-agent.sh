#!/usr/bin/env bash
# Open MPI's remote launcher for namespace "hosts" (given to mpirun as --mca plm_rsh_agent).
#
# mpirun calls it like ssh:  rsh-agent.sh HOST ORTED-COMMAND...  and expects the daemon's
# command to run "on" HOST. Here a host is a Linux network namespace: the command runs under
# `ip netns exec NS`, in a fresh UTS namespace whose hostname is the host's own (Open MPI groups
# ranks into nodes by hostname; without it every rank would look local to the others).
#
# MULTIHOST_MAP (set by run.sh, inherited through mpirun) maps addresses to namespaces and
# hostnames: "10.231.7.2=trainer-mh123-2=mh-host2 ...". Only addresses listed there are reachable.
set -euo pipefail
host="${1:?rsh-agent.sh: missing host}"; shift
# ssh-style options before the command (none by default; tolerated for plm_rsh_args).
while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do shift; done
for entry in ${MULTIHOST_MAP:?rsh-agent.sh: MULTIHOST_MAP is not set (run through Tests/multihost/run.sh)}; do
  IFS='=' read -r address ns name <<<"$entry"
  if [ "$address" = "$host" ] || [ "$name" = "$host" ]; then
    # Like ssh: the remaining words form one shell command line.
    exec ip netns exec "$ns" unshare --uts /bin/sh -c "hostname '$name' && $*"
  fi
done
echo "rsh-agent.sh: host '$host' is not one of the namespace hosts ($MULTIHOST_MAP)" >&2
exit 255
