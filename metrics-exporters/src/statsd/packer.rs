//! Packing lines into datagrams no larger than the path allows.
//!
//! One syscall per line would cap throughput at the syscall rate, so lines are joined
//! with `\n` into payloads of at most `max` bytes (separators included). A line is the
//! unit: it is never split across datagrams — a split line is two bad lines — and a
//! negative-gauge pair is pushed as one unit so UDP cannot reorder its halves. A unit
//! longer than `max` cannot be sent without fragmentation, so it is refused and the
//! caller counts it as dropped.
//!
//! The payload goes out with the end offset of every unit in it, so a transport that
//! delivers only part of a payload (TCP after a partial write) can say exactly which
//! units made it.

/// Accumulates units into one payload.
#[derive(Debug)]
pub(crate) struct Packer {
    buf: Vec<u8>,
    /// End offset (exclusive) of each unit in `buf`; its terminator (the `\n` separator,
    /// or the transport's framing after the last unit) sits at that offset.
    ends: Vec<usize>,
    max: usize,
}

/// A unit that alone exceeds the payload limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Oversize;

impl Packer {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            buf: Vec::with_capacity(max),
            // Every unit takes at least one byte plus a separator.
            ends: Vec::with_capacity(max / 2 + 1),
            max,
        }
    }

    /// Adds `unit`, first handing the current payload and its units' end offsets to
    /// `send` if `unit` would not fit after it.
    pub(crate) fn push(
        &mut self,
        unit: &[u8],
        send: &mut impl FnMut(&[u8], &[usize]),
    ) -> Result<(), Oversize> {
        if unit.len() > self.max {
            return Err(Oversize);
        }
        if !self.buf.is_empty() && self.buf.len() + 1 + unit.len() > self.max {
            self.flush(send);
        }
        if !self.buf.is_empty() {
            self.buf.push(b'\n');
        }
        self.buf.extend_from_slice(unit);
        self.ends.push(self.buf.len());
        Ok(())
    }

    /// Hands over whatever is pending.
    pub(crate) fn flush(&mut self, send: &mut impl FnMut(&[u8], &[usize])) {
        if !self.buf.is_empty() {
            send(&self.buf, &self.ends);
            self.buf.clear();
            self.ends.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack(max: usize, units: &[Vec<u8>]) -> (Vec<Vec<u8>>, usize) {
        let mut p = Packer::new(max);
        let mut out = Vec::new();
        let mut refused = 0;
        let mut send = |d: &[u8], ends: &[usize]| {
            // Every unit ends where the payload ends or at a separator.
            assert_eq!(ends.last(), Some(&d.len()));
            assert!(ends[..ends.len() - 1].iter().all(|&e| d[e] == b'\n'));
            out.push(d.to_vec());
        };
        for u in units {
            if p.push(u, &mut send).is_err() {
                refused += 1;
            }
        }
        p.flush(&mut send);
        (out, refused)
    }

    #[test]
    fn reference_vector_46_lines_of_30_bytes() {
        // protocols.md §3.4 #12.
        let units: Vec<Vec<u8>> = (0..100)
            .map(|i| format!("{:0>26}:1|c", i).into_bytes())
            .collect();
        assert!(units.iter().all(|u| u.len() == 30));
        let (out, refused) = pack(1432, &units);
        assert_eq!(refused, 0);
        assert_eq!(out[0].len(), 1425);
        assert_eq!(out[0].split(|b| *b == b'\n').count(), 46);
        assert_eq!(
            out.iter()
                .map(|d| d.split(|b| *b == b'\n').count())
                .sum::<usize>(),
            100
        );
        assert!(out.iter().all(|d| d.len() <= 1432));
    }

    #[test]
    fn exact_fit_and_oversize() {
        let (out, refused) = pack(
            7,
            &[
                b"abc".to_vec(),
                b"def".to_vec(),
                b"12345678".to_vec(),
                b"g".to_vec(),
            ],
        );
        assert_eq!(refused, 1);
        assert_eq!(out, vec![b"abc\ndef".to_vec(), b"g".to_vec()]);
    }
}
