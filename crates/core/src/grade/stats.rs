//! The aggregates a benchmark report gives: a mean with its standard error over seeds, as
//! MLE-bench reports medal rates, and nearest-rank percentiles of wall times.

/// A mean and its standard error of the mean (sample standard deviation / √n; 0 for one
/// value).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanSem {
    pub mean: f64,
    pub sem: f64,
    pub n: usize,
}

/// The mean ± SEM of `values`; `None` for no values.
pub fn mean_sem(values: &[f64]) -> Option<MeanSem> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let sem = match n {
        1 => 0.0,
        _ => {
            let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            (variance / n as f64).sqrt()
        }
    };
    Some(MeanSem { mean, sem, n })
}

/// The nearest-rank `p`-th percentile (0–100) of `values`; `None` for no values.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p.clamp(0.0, 100.0) / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_standard_error_over_seeds() {
        let m = mean_sem(&[1.0, 0.0, 0.0]).expect("values");
        assert!((m.mean - 1.0 / 3.0).abs() < 1e-12);
        // sample sd of (1,0,0) = sqrt(1/3); sem = sd / sqrt(3) = 1/3.
        assert!((m.sem - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(mean_sem(&[2.0]).expect("one").sem, 0.0);
        assert!(mean_sem(&[]).is_none());
    }

    #[test]
    fn nearest_rank_percentiles() {
        let walls = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(percentile(&walls, 50.0), Some(3.0));
        assert_eq!(percentile(&walls, 90.0), Some(5.0));
        assert_eq!(percentile(&walls, 0.0), Some(1.0));
        assert!(percentile(&[], 50.0).is_none());
    }
}
