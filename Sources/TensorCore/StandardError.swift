import Foundation

/// Writes one line to stderr, unbuffered, after flushing stdout: it keeps its place after the
/// progress lines already printed and survives an abort or `exit` that follows.
public func printError(_ line: String) {
    fflush(nil)
    var text = line.hasSuffix("\n") ? line : line + "\n"
    text.withUTF8 { bytes in
        var done = 0
        while done < bytes.count {
            let n = write(STDERR_FILENO, bytes.baseAddress! + done, bytes.count - done)
            if n <= 0 { break }
            done += n
        }
    }
}
