import CCurl
import Foundation

/// One HTTP(S) GET into a file through libcurl, made to fail fast and in one line when the
/// machine is offline: connecting (name lookup included) gives up after `connectTimeout`
/// seconds, a transfer that stalls for `stallTimeout` seconds is abandoned, an HTTP error
/// status is a failure. The body goes to `<path>.part`, renamed to `path` only when complete.
public enum HTTPDownload {
    public static func fetch(_ url: String, to path: String, connectTimeout: Int = 10, stallTimeout: Int = 60,
                             progress: Bool = isatty(STDERR_FILENO) != 0) throws {
        let part = path + ".part"
        guard let out = fopen(part, "wb") else {
            throw IOError(file: part, "cannot create: \(String(cString: strerror(errno)))")
        }
        var error = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let code = trainer_curl_get(url, out, connectTimeout, stallTimeout, progress ? 1 : 0, &error)
        let closed = fclose(out) == 0
        guard code == CURLE_OK, closed else {
            unlink(part)
            throw IOError(file: url, "cannot download: \(code == CURLE_OK ? "write failed" : String(cBuffer: error))")
        }
        guard rename(part, path) == 0 else {
            unlink(part)
            throw IOError(file: path, "cannot rename the download into place: \(String(cString: strerror(errno)))")
        }
    }
}
