import Foundation
import XCTest
@testable import IO

/// The TensorBoard event file is exact: TensorBoard's own code (the `tensorboard` package from
/// PyPI) parses every record, re-encodes every Event to the same bytes, and re-frames the whole
/// file with its RecordWriter (length, masked CRC-32C of the length, data, masked CRC-32C of the
/// data) to the same bytes; EventAccumulator reads back every scalar at its step.
final class EventFileTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try makeTempDir(name) }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// CRC-32C check value of "123456789" (RFC 3720, iSCSI) and TensorFlow's masking.
    func testCRC32CCheckValueAndMask() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8]()), 0)
        let crc: UInt32 = 0xE306_9283
        XCTAssertEqual(CRC32C.masked(Array("123456789".utf8)), ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8)
    }

    func testTensorBoardReadsAndReencodesEveryRecordExactly() throws {
        let events = try EventFile(directory: dir.path, host: "node1", now: Date(timeIntervalSince1970: 1_700_000_000.25))
        XCTAssertTrue((events.path as NSString).lastPathComponent.hasPrefix("events.out.tfevents.1700000000.node1.\(getpid())."))
        // Step 0 and zero values (proto3 leaves them out), negative, tiny and huge values, a large step.
        events.scalars([("train/loss", 2.302585), ("train/acc", 0), ("lr", 0.1)], step: 0, wallTime: Date(timeIntervalSince1970: 1_700_000_001.5))
        events.scalars([("train/loss", -1.5e-7), ("perf/images_per_second", 123456.75)], step: 300, wallTime: Date(timeIntervalSince1970: 1_700_000_002))
        events.sessionStart(step: 151, wallTime: Date(timeIntervalSince1970: 1_700_000_003))
        events.scalars([("val/acc", 0.5625), ("ünïcode/tag", 3.0e38)], step: 1 << 40, wallTime: Date(timeIntervalSince1970: 1_700_000_004))
        let out = try runTensorBoard(Self.script, events.path)
        XCTAssertTrue(out.contains("records 5, reencoded identical, reframed identical"), out)
        XCTAssertTrue(out.contains("first file_version brain.Event:2 wall 1700000000.25"), out)
        XCTAssertTrue(out.contains("session_log START at 151"), out)
        XCTAssertTrue(out.contains("scalar train/loss 0 2.302585"), out)
        XCTAssertTrue(out.contains("scalar train/acc 0 0.0"), out)
        XCTAssertTrue(out.contains("scalar lr 0 0.1"), out)
        XCTAssertTrue(out.contains("scalar perf/images_per_second 300 123456.8"), out)
        XCTAssertTrue(out.contains("scalar val/acc 1099511627776 0.5625"), out)
        XCTAssertTrue(out.contains("scalar ünïcode/tag 1099511627776 3e+38"), out)
    }

    /// Reads the file with TensorBoard's protobuf classes and RecordWriter, then EventAccumulator
    /// (values printed as float32 rounded to 7 significant digits).
    static let script = """
        import io, struct, sys
        from tensorboard.compat.proto import event_pb2
        from tensorboard.summary.writer.record_writer import RecordWriter
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
        path = sys.argv[1]
        data = open(path, 'rb').read()
        buf = io.BytesIO(); writer = RecordWriter(buf)
        pos, events, same = 0, [], True
        while pos < len(data):
            (n,) = struct.unpack('<Q', data[pos:pos + 8])
            record = data[pos + 12:pos + 12 + n]; pos += 16 + n
            e = event_pb2.Event(); e.ParseFromString(record)
            same = same and e.SerializeToString() == record
            writer.write(e.SerializeToString()); events.append(e)
        writer.flush()
        print('records %d, reencoded %s, reframed %s' % (len(events), 'identical' if same else 'DIFFERENT',
              'identical' if buf.getvalue() == data else 'DIFFERENT'))
        print('first file_version %s wall %r' % (events[0].file_version, events[0].wall_time))
        for e in events:
            if e.HasField('session_log'): print('session_log %s at %d' % (event_pb2.SessionLog.SessionStatus.Name(e.session_log.status), e.step))
        acc = EventAccumulator(path, size_guidance={'scalars': 0}, purge_orphaned_data=False); acc.Reload()
        for tag in acc.Tags()['scalars']:
            for s in acc.Scalars(tag): print('scalar %s %d %s' % (tag, s.step, float('%.7g' % s.value)))
        """

    private func runTensorBoard(_ script: String, _ path: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script, path]
        let pipe = Pipe()
        p.standardOutput = pipe; p.standardError = pipe
        try p.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        if out.contains("No module named 'tensorboard'") { throw XCTSkip("the tensorboard package is not installed (Launch/setup --with-torch)") }
        XCTAssertEqual(p.terminationStatus, 0, out)
        return out
    }
}
