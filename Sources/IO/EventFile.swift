import Foundation

/// A TensorBoard event file (`events.out.tfevents.<time>.<host>.<pid>.<n>`), framed and encoded
/// as TensorFlow's and TensorBoard's own writers do, so TensorBoard (EventAccumulator) reads it:
///
///     record:  uint64 length | uint32 masked CRC-32C of the length bytes | data | uint32 masked CRC-32C of data
///     data:    an Event message (tensorflow/core/util/event.proto):
///              Event { double wall_time = 1; int64 step = 2; oneof { string file_version = 3;
///                      Summary summary = 5; SessionLog session_log = 7; } }
///              Summary { repeated Value value = 1; }  Value { string tag = 1; float simple_value = 2; }
///              SessionLog { SessionStatus status = 1; }   (START = 1)
///
/// The first event is `file_version: "brain.Event:2"`. A resumed run starts a new file with a
/// SessionLog START at its first new step, which tells TensorBoard to drop the events at and
/// after that step that an interrupted run wrote past its last checkpoint.
public final class EventFile {
    public let path: String
    private let handle: FileHandle

    /// Creates the file in `directory`, named from `now`, `host` and the process id.
    public init(directory: String, host: String, now: Date = Date()) throws {
        let seconds = Int(now.timeIntervalSince1970)
        var name = "events.out.tfevents.\(String(format: "%010d", seconds)).\(host).\(getpid())"
        var n = 0
        while FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent("\(name).\(n)")) { n += 1 }
        name += ".\(n)"
        path = (directory as NSString).appendingPathComponent(name)
        guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
            throw IOError(file: path, "cannot create the TensorBoard event file")
        }
        handle = h
        var event = ProtobufWriter()
        event.double(1, now.timeIntervalSince1970)
        event.string(3, "brain.Event:2")
        write(event.bytes)
    }

    deinit { try? handle.close() }

    /// One Event holding `values` as simple-value scalars at global `step`.
    public func scalars(_ values: [(tag: String, value: Double)], step: Int, wallTime: Date = Date()) {
        var summary = ProtobufWriter()
        for (tag, value) in values {
            var v = ProtobufWriter()
            v.string(1, tag)
            v.float(2, Float(value))
            summary.message(1, v.bytes)
        }
        var event = ProtobufWriter()
        event.double(1, wallTime.timeIntervalSince1970)
        event.int(2, Int64(step))
        event.message(5, summary.bytes)
        write(event.bytes)
    }

    /// A SessionLog START at `step`: a restart; TensorBoard purges older events from `step` on.
    public func sessionStart(step: Int, wallTime: Date = Date()) {
        var log = ProtobufWriter()
        log.int(1, 1)
        var event = ProtobufWriter()
        event.double(1, wallTime.timeIntervalSince1970)
        event.int(2, Int64(step))
        event.message(7, log.bytes)
        write(event.bytes)
    }

    /// Frames `data` as one record and appends it in one write (unbuffered: TensorBoard sees
    /// each event as soon as it is logged).
    private func write(_ data: [UInt8]) { handle.write(Data(Self.frame(data))) }

    /// length, masked CRC of the length, data, masked CRC of the data.
    public static func frame(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + 16)
        withUnsafeBytes(of: UInt64(data.count).littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: CRC32C.masked(out[0..<8]).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: data)
        withUnsafeBytes(of: CRC32C.masked(data).littleEndian) { out.append(contentsOf: $0) }
        return out
    }
}
