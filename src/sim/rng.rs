//! Stable, platform-independent draws from hashed keys: the simulator's only randomness.
//!
//! `u(parts)` is a uniform number in [0, 1) that depends on nothing but `parts`, so the same
//! request gives the same answer in every run, and a better prompt (a higher `p`) never
//! reshuffles which items are answered right (common random numbers).

/// FNV-1a over the parts (with a separator), finished with SplitMix64.
pub(crate) fn hash(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    splitmix(h)
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform draw in [0, 1) from the parts.
pub(crate) fn uniform(parts: &[&[u8]]) -> f64 {
    // 53 random bits, as an f64 mantissa.
    (hash(parts) >> 11) as f64 / (1u64 << 53) as f64
}

/// A standard normal draw from the parts (Box–Muller on two hashed uniforms).
pub(crate) fn normal(parts: &[&[u8]]) -> f64 {
    let mut a = parts.to_vec();
    a.push(b"n1");
    let mut b = parts.to_vec();
    b.push(b"n2");
    let u1 = uniform(&a).max(f64::MIN_POSITIVE);
    let u2 = uniform(&b);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// `1 / (1 + e^-x)`.
pub(crate) fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_stable_and_roughly_uniform() {
        assert_eq!(hash(&[b"a", b"b"]), hash(&[b"a", b"b"]));
        assert_ne!(hash(&[b"ab"]), hash(&[b"a", b"b"]), "parts are separated");
        let mean: f64 = (0..10_000u32).map(|i| uniform(&[&i.to_le_bytes()])).sum::<f64>() / 10_000.0;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
        let normals: Vec<f64> = (0..10_000u32).map(|i| normal(&[&i.to_le_bytes()])).collect();
        let m = normals.iter().sum::<f64>() / 1e4;
        let var = normals.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / 1e4;
        assert!(m.abs() < 0.05 && (var - 1.0).abs() < 0.08, "{m} {var}");
    }
}
