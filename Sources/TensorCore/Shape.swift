/// Shape helpers shared by layers: formatting for error messages and size arithmetic.
public enum Shape {
    /// `[2, 3, 32, 32]` → `"(2, 3, 32, 32)"`, the form every shape error message uses.
    public static func format(_ shape: [Int]) -> String {
        "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }

    /// Output length of a sliding window (convolution or pooling) over `input` positions,
    /// PyTorch's floor rule: (input + 2·padding − kernel) / stride + 1.
    /// A window larger than the padded input gives 0 (floor, not Swift's truncation toward 0).
    public static func windowOutput(input: Int, kernel: Int, stride: Int, padding: Int) -> Int {
        let span = input + 2 * padding - kernel
        return span < 0 ? 0 : span / stride + 1
    }
}
