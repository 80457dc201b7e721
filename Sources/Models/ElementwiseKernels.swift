/// Element-wise loops of the residual join, written with eight-lane SIMD values: a plain
/// loop with a `? :` select compiles to a branch per element and does not vectorise.
enum Elementwise {
    /// out = max(a + b, 0) over n floats.
    static func addReLU(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, _ n: Int) {
        let ar = UnsafeRawPointer(a), br = UnsafeRawPointer(b), or = UnsafeMutableRawPointer(out)
        let zero = SIMD8<Float>()
        var i = 0
        while i + 8 <= n {
            var v = ar.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                + br.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            v.replace(with: zero, where: v .< zero)
            or.storeBytes(of: v, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { let v = a[i] + b[i]; out[i] = v > 0 ? v : 0; i += 1 }
    }

    /// out = g where y > 0, else 0 (the ReLU backward through its output y).
    static func reluMask(_ g: UnsafePointer<Float>, by y: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, _ n: Int) {
        let gr = UnsafeRawPointer(g), yr = UnsafeRawPointer(y), or = UnsafeMutableRawPointer(out)
        let zero = SIMD8<Float>()
        var i = 0
        while i + 8 <= n {
            var v = gr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            v.replace(with: zero, where: yr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) .<= zero)
            or.storeBytes(of: v, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { out[i] = y[i] > 0 ? g[i] : 0; i += 1 }
    }

    /// out = a + b over n floats.
    static func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, _ n: Int) {
        let ar = UnsafeRawPointer(a), br = UnsafeRawPointer(b), or = UnsafeMutableRawPointer(out)
        var i = 0
        while i + 8 <= n {
            let v = ar.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                + br.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            or.storeBytes(of: v, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { out[i] = a[i] + b[i]; i += 1 }
    }
}
