//! MurmurHash2, 32 bits, over UTF-8 bytes: the hash that names cell files in Jupyter's
//! debugger. ipykernel computes it in the kernel and JupyterLab in the browser, so a cell's
//! file name must come out the same on both sides, bit for bit.

/// The seed ipykernel uses, and that we announce in `debugInfo`.
pub const DEFAULT_HASH_SEED: u32 = 0xC70F_6907;

/// MurmurHash2 (32-bit) of `data` with `seed`.
pub fn murmur2(data: &[u8], seed: u32) -> u32 {
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h = seed ^ (data.len() as u32);
    let mut blocks = data.chunks_exact(4);
    for block in &mut blocks {
        let mut k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M) ^ k;
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u32::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed with ipykernel 7.4's `ipykernel.compiler.murmur2_x86` (and checked against
    /// JupyterLab 4's `murmur2` in packages/debugger/src/hash.ts).
    const VECTORS: [(&str, u32, u32, u32); 9] = [
        ("", 3_990_065_800, 0, 1_540_447_798),
        ("a", 2_167_009_006, 2_456_313_694, 626_045_324),
        ("ab", 2_805_137_849, 446_775_395, 1_692_487_918),
        ("abc", 3_350_977_461, 324_500_635, 1_621_425_345),
        ("abcd", 804_720_481, 646_393_889, 3_376_380_438),
        ("i = 0", 3_033_251_095, 1_245_579_502, 3_729_289_316),
        (
            "print(\"hello\")\nx = 1\n",
            634_903_355,
            3_098_830_742,
            1_011_252_910,
        ),
        ("é日本", 1_114_760_302, 3_535_797_419, 897_203_998),
        (
            "x = 1\ny = 2\nprint(x + y)",
            4_037_972_624,
            916_535_401,
            2_821_555_870,
        ),
    ];

    #[test]
    fn matches_ipykernel_and_jupyterlab() {
        for (text, with_default, with_0, with_1) in VECTORS {
            let b = text.as_bytes();
            assert_eq!(murmur2(b, DEFAULT_HASH_SEED), with_default, "{text:?}");
            assert_eq!(murmur2(b, 0), with_0, "{text:?} seed 0");
            assert_eq!(murmur2(b, 1), with_1, "{text:?} seed 1");
        }
    }
}
