/// Resizing 8-bit (H, W, C) images to a fixed size, separably, with PIL's BILINEAR filter: a
/// triangle of support 1 output pixel, widened by the scale factor when shrinking, so a
/// downscale averages every input pixel it covers instead of aliasing (pixel centres at +0.5).
public enum ImageResize {
    public static func resize(_ px: [UInt8], height h: Int, width w: Int, channels c: Int,
                              toHeight oh: Int, toWidth ow: Int) -> [UInt8] {
        if (h, w) == (oh, ow) { return px }
        let wx = weights(from: w, to: ow), wy = weights(from: h, to: oh)
        var rows = [Float](repeating: 0, count: h * ow * c)          // (H, OW, C)
        for y in 0..<h {
            for (x, taps) in wx.enumerated() {
                for ch in 0..<c {
                    var s: Float = 0
                    for (i, k) in taps { s += k * Float(px[(y * w + i) * c + ch]) }
                    rows[(y * ow + x) * c + ch] = s
                }
            }
        }
        var out = [UInt8](repeating: 0, count: oh * ow * c)          // (OH, OW, C)
        for (y, taps) in wy.enumerated() {
            for x in 0..<ow {
                for ch in 0..<c {
                    var s: Float = 0
                    for (i, k) in taps { s += k * rows[(i * ow + x) * c + ch] }
                    out[(y * ow + x) * c + ch] = UInt8(max(0, min(255, s.rounded())))
                }
            }
        }
        return out
    }

    /// For each output index, the input indices and normalised weights it mixes.
    static func weights(from n: Int, to m: Int) -> [[(Int, Float)]] {
        let scale = Double(n) / Double(m), support = max(1, scale)
        return (0..<m).map { o in
            let centre = (Double(o) + 0.5) * scale
            let lo = max(0, Int((centre - support).rounded(.down))), hi = min(n - 1, Int((centre + support).rounded(.up)))
            var taps: [(Int, Float)] = []
            for i in lo...hi {
                let k = max(0, 1 - abs((Double(i) + 0.5 - centre) / support))
                if k > 0 { taps.append((i, Float(k))) }
            }
            let total = taps.reduce(Float(0)) { $0 + $1.1 }
            return taps.map { ($0.0, $0.1 / total) }
        }
    }
}
