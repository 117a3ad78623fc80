//! Small dense symmetric linear algebra for the GLMs (p up to a few hundred):
//! Cholesky factorisation, solve and inverse. Matrices are row-major `p × p`.

/// Cholesky factor `L` (row-major, lower triangle) of a symmetric positive
/// definite matrix, or `None` when it is not numerically positive definite.
pub(crate) fn cholesky(a: &[f64], p: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; p * p];
    for i in 0..p {
        for j in 0..=i {
            let mut s = a[i * p + j];
            for k in 0..j {
                s -= l[i * p + k] * l[j * p + k];
            }
            if i == j {
                // Relative pivot check: a pivot that lost all but ~1e-13 of the
                // diagonal means the columns are (nearly) collinear.
                if !(s > a[i * p + i].abs() * 1e-13) || !s.is_finite() {
                    return None;
                }
                l[i * p + i] = s.sqrt();
            } else {
                l[i * p + j] = s / l[j * p + j];
            }
        }
    }
    Some(l)
}

/// Columns of a symmetric positive semi-definite matrix (e.g. `XᵀX`) that are
/// linear combinations of earlier columns: their residual after projecting
/// out the earlier ones keeps less than `rel_tol` of their squared norm.
pub(crate) fn aliased_columns(a: &[f64], p: usize, rel_tol: f64) -> Vec<bool> {
    let mut l = vec![0.0; p * p];
    let mut aliased = vec![false; p];
    for i in 0..p {
        for j in 0..=i {
            if aliased[j] {
                continue;
            }
            let mut s = a[i * p + j];
            for k in 0..j {
                s -= l[i * p + k] * l[j * p + k];
            }
            if i == j {
                if s <= a[i * p + i].abs() * rel_tol || !s.is_finite() {
                    aliased[i] = true;
                } else {
                    l[i * p + i] = s.sqrt();
                }
            } else {
                l[i * p + j] = s / l[j * p + j];
            }
        }
        if aliased[i] {
            l[i * p..i * p + i + 1].iter_mut().for_each(|v| *v = 0.0);
        }
    }
    aliased
}

/// Solves `L Lᵀ x = b` in place.
pub(crate) fn cholesky_solve(l: &[f64], p: usize, b: &mut [f64]) {
    for i in 0..p {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i * p + k] * b[k];
        }
        b[i] = s / l[i * p + i];
    }
    for i in (0..p).rev() {
        let mut s = b[i];
        for k in i + 1..p {
            s -= l[k * p + i] * b[k];
        }
        b[i] = s / l[i * p + i];
    }
}

/// Inverse of `L Lᵀ` (row-major).
pub(crate) fn cholesky_inverse(l: &[f64], p: usize) -> Vec<f64> {
    let mut inv = vec![0.0; p * p];
    let mut e = vec![0.0; p];
    for j in 0..p {
        e.iter_mut().for_each(|v| *v = 0.0);
        e[j] = 1.0;
        cholesky_solve(l, p, &mut e);
        for i in 0..p {
            inv[i * p + j] = e[i];
        }
    }
    inv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_and_inverts() {
        let a = [4.0, 2.0, 0.6, 2.0, 5.0, 1.0, 0.6, 1.0, 3.0];
        let l = cholesky(&a, 3).unwrap();
        let mut b = [1.0, 2.0, 3.0];
        cholesky_solve(&l, 3, &mut b);
        for i in 0..3 {
            let r: f64 = (0..3).map(|k| a[i * 3 + k] * b[k]).sum();
            assert!((r - [1.0, 2.0, 3.0][i]).abs() < 1e-12);
        }
        let inv = cholesky_inverse(&l, 3);
        for i in 0..3 {
            for j in 0..3 {
                let r: f64 = (0..3).map(|k| a[i * 3 + k] * inv[k * 3 + j]).sum();
                assert!((r - f64::from(u8::from(i == j))).abs() < 1e-12);
            }
        }
        assert!(cholesky(&[1.0, 1.0, 1.0, 1.0], 2).is_none());
        // Columns x, 2x, y: the second is aliased.
        let a = [1.0, 2.0, 0.5, 2.0, 4.0, 1.0, 0.5, 1.0, 3.0];
        assert_eq!(aliased_columns(&a, 3, 1e-10), vec![false, true, false]);
    }
}
