//! CPU feature detection and the precision order.
//!
//! Two views of the CPU:
//! - what the hardware has, from the standard library's runtime detection
//!   (`is_x86_feature_detected!` / `is_aarch64_feature_detected!`), reported
//!   by `probe` for diagnosis;
//! - what tract *dispatches on*: [`tract_linalg::isa::native()`], the set
//!   tract-linalg probes once and then edits with the `TRACT_CPU_ISA`
//!   environment variable (comma-separated features with `+`/`-`, e.g.
//!   `TRACT_CPU_ISA=-avx512f,-avx512vnni` makes an AVX-512 machine dispatch
//!   like an AVX2 one). The precision order follows this second view, so it
//!   always matches the kernels tract really runs.
//!
//! # Precision rule
//!
//! `fp16` packages are f16 initializers followed by `Cast` to f32: tract folds
//! the casts at load and runs the very same f32 kernels, so fp16 is exactly as
//! fast as fp32 (measured: within noise, see the plugin README) and never
//! ahead of it; fp32 goes first because it is the reference with no weight
//! rounding.
//!
//! `int8` (QOperator: QLinearConv / QLinearMatMul) runs tract's integer
//! kernels, whose speed depends on the ISA. It is put first only on an ISA tier
//! where int8 was *measured* at least as fast as fp32; everywhere else it goes
//! last. Measured int8 / fp32 time per window (single thread):
//!
//! | tier tract dispatches on   | 42M-MAC CNN [1] | tiny-mel [2]        |
//! |----------------------------|-----------------|---------------------|
//! | x86 AMX-INT8               | 2.10            | -                   |
//! | x86 AVX-512 VNNI           | 1.22            | -                   |
//! | x86 AVX-VNNI               | 5.5             | -                   |
//! | x86 AVX2 + FMA             | 42              | 11  (4.75 / 0.43 ms)|
//! | x86 AVX only (simulated)   | -               | 3.8 (1.93 / 0.51 ms)|
//! | x86 SSE2 only (simulated)  | -               | 3.9 (2.93 / 0.75 ms)|
//! | aarch64 (any)              | -               | -                   |
//!
//! [1] `/work/shared/TRACT-NOTES.md`: Xeon with AMX, lower tiers simulated
//! with `TRACT_CPU_ISA`. [2] `benches/precision.rs`, batch 1, on an AMD EPYC
//! with AVX2+FMA (no AVX-512), lower tiers simulated with `TRACT_CPU_ISA`
//! (see `plugins/cpu/README.md`). Note that on this EPYC tract's AVX2 int8
//! path is slower than its plain-AVX and SSE2 fallbacks.
//!
//! No measured tier reaches a ratio <= 1, so the order is `fp32,fp16,int8`
//! everywhere measured; an unmeasured tier (aarch64) also keeps int8 last.
//! [`INT8_RATIO`] is the one place to change when a measurement (an aarch64
//! phone with dotprod, say) says otherwise.

use tract_linalg::isa::{Isa, IsaSet};

/// Where int8 sits relative to fp32 on one ISA tier.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Int8Speed {
    /// Tier name as reported by `probe`.
    pub tier: &'static str,
    /// Measured int8 time / fp32 time (worst of the models measured), or
    /// `None` when never measured on this tier.
    pub ratio: Option<f32>,
}

impl Int8Speed {
    /// int8 counts as fast only where measured at least as fast as fp32.
    pub fn fast(&self) -> bool {
        matches!(self.ratio, Some(r) if r <= 1.0)
    }
}

/// Measured int8/fp32 time ratios per tier (worst model measured), best
/// tier first (see the module doc for the sources). The first tier whose
/// features tract dispatches on decides.
const INT8_RATIO: &[(&str, &[Isa], Option<f32>)] = &[
    ("amx-int8", &[Isa::X86_64AmxInt8], Some(2.10)),
    ("avx512vnni", &[Isa::X86_64Avx512Vnni], Some(1.22)),
    ("avxvnni", &[Isa::X86_64AvxVnni], Some(5.5)),
    ("avx2+fma", &[Isa::X86_64Avx2, Isa::X86_64Fma], Some(42.0)),
    ("avx", &[Isa::X86_64Avx], Some(3.8)),
    ("sse2", &[Isa::X86_64], Some(3.9)),
    ("aarch64+dotprod", &[Isa::Aarch64DotProd], None),
    ("aarch64", &[Isa::Aarch64], None),
];

/// The ISA set tract dispatches on (hardware probe edited by `TRACT_CPU_ISA`).
pub fn tract_isa() -> IsaSet {
    tract_linalg::isa::native()
}

/// int8 speed class of an ISA set (pure: testable with any set).
pub fn int8_speed(isa: IsaSet) -> Int8Speed {
    for (tier, needs, ratio) in INT8_RATIO {
        if needs.iter().all(|i| isa.has(*i)) {
            return Int8Speed {
                tier,
                ratio: *ratio,
            };
        }
    }
    Int8Speed {
        tier: "other",
        ratio: None,
    }
}

/// Precision order for an ISA set (pure: testable with any set).
pub fn precision_order_for(isa: IsaSet) -> &'static str {
    if int8_speed(isa).fast() {
        "int8,fp32,fp16"
    } else {
        "fp32,fp16,int8"
    }
}

/// Precision order on this machine, as tract will dispatch.
pub fn precision_order() -> &'static str {
    precision_order_for(tract_isa())
}

/// Features the hardware reports through std's runtime detection.
pub fn hardware_features() -> Vec<&'static str> {
    #[allow(unused_mut)]
    let mut v: Vec<&'static str> = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! probe {
            ($($f:tt),*) => { $( if std::arch::is_x86_feature_detected!($f) { v.push($f); } )* };
        }
        probe!(
            "avx",
            "avx2",
            "fma",
            "f16c",
            "avx512f",
            "avx512vnni",
            "avx512fp16",
            "avxvnni"
        );
        // AMX detection in std is unstable: read CPUID leaf 7 directly
        // (EDX bit 25 AMX-INT8, bit 22 AMX-BF16). Whether the OS grants the
        // tile state is tract's business (it asks before using AMX).
        // SAFETY: CPUID leaf 7 exists on every x86_64 that has AVX2; on older
        // parts it returns zeros.
        #[allow(unused_unsafe)]
        let leaf7 = unsafe { std::arch::x86_64::__cpuid_count(7, 0) };
        if leaf7.edx & (1 << 25) != 0 {
            v.push("amx-int8");
        }
        if leaf7.edx & (1 << 22) != 0 {
            v.push("amx-bf16");
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        // Only names stable in std's detection (SME's is unstable, E0658);
        // tract has no SME kernels, so it would only be diagnostic anyway.
        macro_rules! probe {
            ($($f:tt),*) => { $( if std::arch::is_aarch64_feature_detected!($f) { v.push($f); } )* };
        }
        probe!("fp16", "dotprod", "i8mm", "bf16", "sve", "sve2");
    }
    v
}

/// The `probe` message, e.g.
/// `tract 0.23.9; x86_64 arch, cpu avx,avx2,fma,f16c; tract isa
/// x86_64,avx,avx2,fma,f16c (fma); int8 fast: no (avx2+fma, int8 measured up
/// to 42x fp32 time); order fp32,fp16,int8`.
pub fn describe() -> String {
    let isa = tract_isa();
    let s = int8_speed(isa);
    let hw = hardware_features();
    let forced = match std::env::var("TRACT_CPU_ISA") {
        Ok(v) if !v.trim().is_empty() => format!(" [TRACT_CPU_ISA={v}]"),
        _ => String::new(),
    };
    let ratio = match s.ratio {
        Some(r) => format!("int8 measured up to {r}x fp32 time"),
        None => "int8 speed not measured".to_string(),
    };
    format!(
        "tract {}{}; {} arch, cpu {}; tract isa {:?} ({}){}; int8 fast: {} ({}, {}); order {}",
        crate::TRACT_VERSION,
        if cfg!(feature = "multithread") {
            ""
        } else {
            " (single-threaded build)"
        },
        std::env::consts::ARCH,
        if hw.is_empty() {
            "baseline".to_string()
        } else {
            hw.join(",")
        },
        isa,
        isa.nickname(),
        forced,
        if s.fast() { "yes" } else { "no" },
        s.tier,
        ratio,
        precision_order_for(isa),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_linalg::isa::Arch;

    #[test]
    fn order_puts_int8_last_where_measured_slower() {
        for level in 0..=5 {
            let set = IsaSet::ladder(Arch::X86_64, level);
            assert_eq!(precision_order_for(set), "fp32,fp16,int8", "{set:?}");
        }
        let amx = IsaSet::ladder(Arch::X86_64, 5);
        assert_eq!(int8_speed(amx).tier, "amx-int8");
        let avx2 = IsaSet::ladder(Arch::X86_64, 2);
        assert_eq!(int8_speed(avx2).tier, "avx2+fma");
        assert_eq!(int8_speed(IsaSet::ladder(Arch::X86_64, 1)).tier, "avx");
        assert_eq!(int8_speed(IsaSet::ladder(Arch::X86_64, 0)).tier, "sse2");
        assert_eq!(
            int8_speed(IsaSet::ladder(Arch::Aarch64, 2)).tier,
            "aarch64+dotprod"
        );
        assert_eq!(
            precision_order_for(IsaSet::ladder(Arch::Aarch64, 5)),
            "fp32,fp16,int8"
        );
    }

    #[test]
    fn describe_names_tract_and_order() {
        let d = describe();
        assert!(d.starts_with("tract 0.23."), "{d}");
        assert!(d.contains("int8 fast: "), "{d}");
        assert!(d.ends_with(precision_order()), "{d}");
    }
}
