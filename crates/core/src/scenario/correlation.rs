//! `[[correlation]]` blocks: rank correlations between uncertain
//! parameters, checked here and sampled by the engine's Gaussian copula
//! (`engine/design.rs`).
//!
//! A block names its parameters by dotted path, as `sweep --vary` does
//! (`renegotiation[0].hazard`, `customers.openai.shift[0].target`), or by
//! their stable names (`renegotiation[openai,azure].hazard`), and gives
//! their Spearman rank correlation matrix. A matrix that is not square,
//! not symmetric, has entries outside [-1, 1] or a diagonal other than 1,
//! or is not positive semi-definite is refused; for the last, the message
//! gives the smallest eigenvalue and the nearest valid correlation matrix
//! (Higham, "Computing the nearest correlation matrix", IMA J. Numer.
//! Anal. 22, 2002: alternating projections with Dykstra's correction),
//! written as TOML to paste.

use nalgebra::DMatrix;

use super::raw::{RawCorrelation, S};
use super::{Cx, Res};
use crate::model::{Correlation, Scenario};

/// Eigenvalues down to this are taken as 0 (rounding in a valid input).
const PSD_TOLERANCE: f64 = 1e-10;

/// Check the raw blocks against the scenario's parameters.
pub(super) fn validate(cx: &Cx, raw: &[S<RawCorrelation>], sc: &Scenario) -> Res<Vec<Correlation>> {
    let params = sc.parameters();
    let uncertain: Vec<&str> = params.iter().filter(|p| !p.dist.is_fixed()).map(|p| p.path.as_str()).collect();
    let mut taken: Vec<(usize, usize)> = Vec::new();
    let mut out = Vec::new();
    for (b, block) in raw.iter().enumerate() {
        let f = format!("correlation[{b}]");
        let r = block.get_ref();
        let names = r.parameters.get_ref();
        let span = Some(r.parameters.span());
        if names.len() < 2 {
            return Err(cx.err(&format!("{f}.parameters"), span.as_ref(), "name at least two parameters to correlate"));
        }
        let mut ix = Vec::new();
        for name in names {
            let (name, span) = (name.get_ref().as_str(), Some(name.span()));
            let field = format!("{f}.parameters");
            if name.ends_with(".severity") {
                return Err(cx.err(&field, span.as_ref(), format!("`{name}` is drawn anew for every event, not once per path, so it cannot be correlated; correlate the rule's hazard or migrate instead")));
            }
            let Some(k) = params.iter().position(|p| p.path == name || p.key == name) else {
                return Err(cx.err(
                    &field,
                    span.as_ref(),
                    format!(
                        "`{name}` is not a parameter of this scenario; its uncertain parameters are: {}",
                        uncertain.join(", ")
                    ),
                ));
            };
            if params[k].dist.is_fixed() {
                return Err(cx.err(&field, span.as_ref(), format!("`{name}` is a plain number, so it has nothing to correlate: give it a distribution, or remove it from the block (uncertain parameters: {})", uncertain.join(", "))));
            }
            if ix.contains(&k) {
                return Err(cx.err(&field, span.as_ref(), format!("`{name}` is named twice in this block")));
            }
            if let Some((_, other)) = taken.iter().find(|(t, _)| *t == k) {
                return Err(cx.err(&field, span.as_ref(), format!("`{name}` is also in correlation[{other}]: a parameter can be in one block only, so merge the two blocks into one matrix")));
            }
            ix.push(k);
        }
        taken.extend(ix.iter().map(|k| (*k, b)));
        let rank = matrix(cx, &format!("{f}.rank"), &r.rank, ix.len())?;
        out.push(Correlation { params: ix, rank });
    }
    Ok(out)
}

/// Check the matrix itself: shape, entries, symmetry, diagonal, and that
/// it is positive semi-definite.
fn matrix(cx: &Cx, field: &str, m: &S<Vec<Vec<f64>>>, n: usize) -> Res<Vec<Vec<f64>>> {
    let (rows, span) = (m.get_ref(), Some(m.span()));
    if rows.len() != n || rows.iter().any(|r| r.len() != n) {
        return Err(cx.err(
            field,
            span.as_ref(),
            format!("must be {n} x {n}, one row and one column per parameter named, in that order"),
        ));
    }
    for (i, row) in rows.iter().enumerate() {
        for (j, &x) in row.iter().enumerate() {
            if !(x.is_finite() && (-1.0..=1.0).contains(&x)) {
                return Err(cx.err(
                    field,
                    span.as_ref(),
                    format!("entry ({}, {}) is {x}: rank correlations lie in [-1, 1]", i + 1, j + 1),
                ));
            }
            if i == j && x != 1.0 {
                return Err(cx.err(
                    field,
                    span.as_ref(),
                    format!("diagonal entry ({0}, {0}) is {x}: a parameter's correlation with itself is 1", i + 1),
                ));
            }
            if (x - rows[j][i]).abs() > 1e-12 {
                return Err(cx.err(
                    field,
                    span.as_ref(),
                    format!(
                        "not symmetric: entry ({}, {}) is {x} but ({}, {}) is {}; make them equal",
                        i + 1,
                        j + 1,
                        j + 1,
                        i + 1,
                        rows[j][i]
                    ),
                ));
            }
        }
    }
    let a = DMatrix::from_fn(n, n, |i, j| rows[i][j]);
    let smallest = a.clone().symmetric_eigen().eigenvalues.min();
    if smallest < -PSD_TOLERANCE {
        let near = nearest_correlation(&a);
        return Err(cx.err(
            field,
            span.as_ref(),
            format!(
                "not positive semi-definite (smallest eigenvalue {smallest:.4}): no parameters can have these rank correlations together. The nearest valid matrix (Higham 2002) is\n    rank = {}",
                toml_matrix(&near)
            ),
        ));
    }
    Ok(rows.clone())
}

/// The nearest correlation matrix to `a` in the Frobenius norm (Higham
/// 2002), then moved towards the identity just enough that, rounded to the
/// 4 decimals it is printed with, it is still positive semi-definite.
pub fn nearest_correlation(a: &DMatrix<f64>) -> DMatrix<f64> {
    let n = a.nrows();
    let psd = |m: &DMatrix<f64>| {
        let e = m.clone().symmetric_eigen();
        let d = DMatrix::from_diagonal(&e.eigenvalues.map(|x| x.max(0.0)));
        let p = &e.eigenvectors * d * e.eigenvectors.transpose();
        (&p + p.transpose()) * 0.5
    };
    let unit_diagonal = |mut m: DMatrix<f64>| {
        (0..n).for_each(|i| m[(i, i)] = 1.0);
        m
    };
    let (mut y, mut ds) = (a.clone(), DMatrix::zeros(n, n));
    for _ in 0..1000 {
        let r = &y - &ds;
        let x = psd(&r);
        ds = &x - &r;
        let next = unit_diagonal(x.clone());
        let done = (&next - &x).norm() <= 1e-12 * x.norm().max(1.0) && (&next - &y).norm() <= 1e-12;
        y = next;
        if done {
            break;
        }
    }
    let round = |m: &DMatrix<f64>| m.map(|x| (x * 1e4).round() / 1e4);
    let eye = DMatrix::identity(n, n);
    for k in 0..=1000 {
        let t = f64::from(k) * 1e-4;
        let m = round(&(&y * (1.0 - t) + &eye * t));
        if m.clone().symmetric_eigen().eigenvalues.min() >= -1e-12 {
            return m;
        }
    }
    eye
}

/// `[[1.0, 0.6], [0.6, 1.0]]`.
pub fn toml_matrix(m: &DMatrix<f64>) -> String {
    let row = |i: usize| {
        let cells: Vec<String> = (0..m.ncols()).map(|j| format!("{:?}", m[(i, j)])).collect();
        format!("[{}]", cells.join(", "))
    };
    format!("[{}]", (0..m.nrows()).map(row).collect::<Vec<_>>().join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_of_a_valid_matrix_is_itself() {
        let a = DMatrix::from_row_slice(2, 2, &[1.0, 0.6, 0.6, 1.0]);
        assert_eq!(nearest_correlation(&a), a);
    }

    #[test]
    fn nearest_correlation_matches_highams_example() {
        // Higham (2002), section 4: the nearest correlation matrix to
        // [[1, 1, 0], [1, 1, 1], [0, 1, 1]] has off-diagonals 0.7607,
        // 0.1573, 0.7607.
        let a = DMatrix::from_row_slice(3, 3, &[1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
        let near = nearest_correlation(&a);
        for (i, j, want) in [(0, 1, 0.7607), (0, 2, 0.1573), (1, 2, 0.7607)] {
            assert!((near[(i, j)] - want).abs() <= 2e-4, "({i}, {j}) = {}", near[(i, j)]);
            assert_eq!(near[(i, j)], near[(j, i)]);
        }
        assert!(near.clone().symmetric_eigen().eigenvalues.min() >= -1e-12);
        assert_eq!(toml_matrix(&DMatrix::identity(2, 2)), "[[1.0, 0.0], [0.0, 1.0]]");
    }
}
