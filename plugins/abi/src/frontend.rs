//! The offloadable front end as owned tables: what libdfd builds from its
//! own front-end code and what a plugin reads back from a [`FrontendDesc`].
//! One type on both sides, so the definition exists once.

use crate::sdk::{Error, Result};
use crate::{FrontendDesc, LogKind};

/// Largest `n_fft`, hop and row count a plugin accepts from a host.
const MAX_N_FFT: u32 = 1 << 16;
/// Largest window, in samples, a plugin accepts from a host.
const MAX_WINDOW: u32 = 1 << 24;

/// Everything a backend needs to reproduce libdfd's CPU front end for the
/// covered kind (see [`FrontendDesc`] for the arithmetic).
#[derive(Debug, Clone, PartialEq)]
pub struct FrontendTables {
    pub window_samples: usize,
    pub n_fft: usize,
    pub hop: usize,
    /// Samples of padding on each side (`n_fft / 2` when centred).
    pub pad: usize,
    /// numpy "reflect" padding, else zeros.
    pub reflect: bool,
    /// 1 (magnitude) or 2 (power).
    pub power: u32,
    /// The analysis window zero-padded to `n_fft` (f64, as libdfd's CPU
    /// front end computes in f64).
    pub window: Vec<f64>,
    /// Output rows (filters, or `n_fft / 2 + 1` bins).
    pub rows: usize,
    /// Dense row-major `[rows, n_fft / 2 + 1]`; `None`: the bins themselves.
    pub filterbank: Option<Vec<f32>>,
    pub log_kind: LogKind,
    pub log_offset: f32,
    pub log_floor: Option<f32>,
    /// One value per row.
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl FrontendTables {
    pub fn bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Output frames per window.
    pub fn frames(&self) -> usize {
        1 + (self.window_samples + 2 * self.pad).saturating_sub(self.n_fft) / self.hop.max(1)
    }

    /// The ABI form, as `set_frontend` receives it. Its pointers borrow
    /// `self`'s tables: use it only while `self` lives.
    pub fn desc(&self) -> FrontendDesc {
        let u = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        FrontendDesc {
            struct_size: std::mem::size_of::<FrontendDesc>() as u32,
            window_samples: u(self.window_samples),
            n_fft: u(self.n_fft),
            hop: u(self.hop),
            pad: u(self.pad),
            reflect: u32::from(self.reflect),
            power: self.power,
            rows: u(self.rows),
            window: self.window.as_ptr(),
            filterbank: self
                .filterbank
                .as_ref()
                .map_or(std::ptr::null(), |f| f.as_ptr()),
            log_kind: self.log_kind,
            has_floor: u32::from(self.log_floor.is_some()),
            log_offset: self.log_offset,
            log_floor: self.log_floor.unwrap_or(0.0),
            mean: self.mean.as_ptr(),
            std: self.std.as_ptr(),
        }
    }

    /// Copies a host's description, checking every size (and the log kind)
    /// before reading a table.
    ///
    /// # Safety
    /// `desc` must be NULL or point to `struct_size` readable bytes whose
    /// table pointers are valid for the lengths the fields give.
    pub unsafe fn from_desc(desc: *const FrontendDesc) -> Result<FrontendTables> {
        if desc.is_null() {
            return Err(Error::arg("set_frontend: desc is NULL"));
        }
        // SAFETY: every FrontendDesc starts with its u32 size.
        let size = unsafe { std::ptr::addr_of!((*desc).struct_size).read_unaligned() } as usize;
        if size < std::mem::size_of::<FrontendDesc>() {
            return Err(Error::arg(format!(
                "set_frontend: FrontendDesc.struct_size is {size}, expected at least {}",
                std::mem::size_of::<FrontendDesc>()
            )));
        }
        // The enum field is read as its raw u32 first: an unknown value must
        // be refused, never materialised as a `LogKind`.
        // SAFETY: the struct is at least this large; LogKind is repr(u32).
        let raw_kind = unsafe {
            std::ptr::addr_of!((*desc).log_kind)
                .cast::<u32>()
                .read_unaligned()
        };
        if LogKind::from_raw(raw_kind).is_none() {
            return Err(Error::arg(format!(
                "set_frontend: unknown log_kind {raw_kind}"
            )));
        }
        // SAFETY: size and log_kind checked above.
        let d = unsafe { desc.read_unaligned() };
        let sizes_ok = (2..=MAX_N_FFT).contains(&d.n_fft)
            && (1..=MAX_WINDOW).contains(&d.window_samples)
            && (1..=MAX_N_FFT).contains(&d.hop)
            && d.pad <= d.n_fft
            && (1..=MAX_N_FFT).contains(&d.rows);
        if !sizes_ok || d.window.is_null() || d.mean.is_null() || d.std.is_null() {
            return Err(Error::arg(format!(
                "set_frontend: sizes out of range or a NULL table (n_fft {}, window {}, hop {}, pad {}, rows {})",
                d.n_fft, d.window_samples, d.hop, d.pad, d.rows
            )));
        }
        let (n_fft, rows) = (d.n_fft as usize, d.rows as usize);
        let bins = n_fft / 2 + 1;
        if d.filterbank.is_null() && rows != bins {
            return Err(Error::arg(format!(
                "set_frontend: no filterbank but {rows} rows for {bins} bins"
            )));
        }
        // SAFETY: non-NULL, lengths as the struct documents (caller's contract).
        let (window, mean, std, filterbank) = unsafe {
            (
                std::slice::from_raw_parts(d.window, n_fft).to_vec(),
                std::slice::from_raw_parts(d.mean, rows).to_vec(),
                std::slice::from_raw_parts(d.std, rows).to_vec(),
                (!d.filterbank.is_null())
                    .then(|| std::slice::from_raw_parts(d.filterbank, rows * bins).to_vec()),
            )
        };
        let t = FrontendTables {
            window_samples: d.window_samples as usize,
            n_fft,
            hop: d.hop as usize,
            pad: d.pad as usize,
            reflect: d.reflect != 0,
            power: d.power,
            window,
            rows,
            filterbank,
            log_kind: d.log_kind,
            log_offset: d.log_offset,
            log_floor: (d.has_floor != 0).then_some(d.log_floor),
            mean,
            std,
        };
        t.check()?;
        Ok(t)
    }

    /// Whether the tables agree with each other (sizes, padding, power).
    pub fn check(&self) -> Result<()> {
        let ok = self.n_fft >= 2
            && self.hop > 0
            && self.window.len() == self.n_fft
            && self.window_samples + 2 * self.pad >= self.n_fft
            && (!self.reflect || self.pad < self.window_samples)
            && matches!(self.power, 1 | 2)
            && self.mean.len() == self.rows
            && self.std.len() == self.rows
            && self
                .filterbank
                .as_ref()
                .map_or(self.rows == self.bins(), |w| {
                    w.len() == self.rows * self.bins()
                });
        if ok {
            Ok(())
        } else {
            Err(Error::arg("front end: inconsistent tables"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables() -> FrontendTables {
        FrontendTables {
            window_samples: 1600,
            n_fft: 64,
            hop: 16,
            pad: 32,
            reflect: true,
            power: 2,
            window: vec![1.0; 64],
            rows: 4,
            filterbank: Some((0..4 * 33).map(|i| i as f32).collect()),
            log_kind: LogKind::Log10,
            log_offset: 1e-6,
            log_floor: Some(1e-10),
            mean: vec![0.5; 4],
            std: vec![2.0; 4],
        }
    }

    #[test]
    fn desc_round_trips() {
        let t = tables();
        let back = unsafe { FrontendTables::from_desc(&t.desc()) }.unwrap();
        assert_eq!(back, t);
        assert_eq!(t.frames(), 1 + (1600 + 64 - 64) / 16);
    }

    #[test]
    fn lying_descriptions_are_refused_unread() {
        let t = tables();
        let desc = t.desc();
        let small = FrontendDesc {
            struct_size: 8,
            ..desc
        };
        let e = unsafe { FrontendTables::from_desc(&small) }.unwrap_err();
        assert!(e.message.contains("struct_size"), "{}", e.message);
        assert!(unsafe { FrontendTables::from_desc(&FrontendDesc { rows: 0, ..desc }) }.is_err());
        assert!(unsafe { FrontendTables::from_desc(std::ptr::null()) }.is_err());
        // An out-of-range log kind, as a C host could write it (kept in
        // untyped memory: a Rust `LogKind` can never hold it).
        let mut raw = std::mem::MaybeUninit::new(desc);
        unsafe {
            std::ptr::addr_of_mut!((*raw.as_mut_ptr()).log_kind)
                .cast::<u32>()
                .write(7)
        };
        let e = unsafe { FrontendTables::from_desc(raw.as_ptr()) }.unwrap_err();
        assert!(e.message.contains("log_kind 7"), "{}", e.message);
    }
}
