//! Column-wise evaluation of the flat program over one chunk of people.
//!
//! Every node owns a column of `chunk` slots in two flat buffers: values (`f64`;
//! booleans as 0/1, strings as string ids) and validity (`false` = null). A node
//! reads only columns of earlier nodes. Kernels compute validity explicitly from
//! their operands' validity; the value in an invalid slot is never read.
//!
//! Kleene truth tables (`N` = null):
//!
//! | a \ b | T | F | N |      | a \ b | T | F | N |
//! |-------|---|---|---|      |-------|---|---|---|
//! | **and T** | T | F | N |  | **or T** | T | T | T |
//! | **and F** | F | F | F |  | **or F** | T | F | N |
//! | **and N** | N | F | N |  | **or N** | T | N | N |

use crate::lang::ir::{ArithOp, CmpOp};
use crate::plan::{NodeId, Op, Plan};

/// Per-person inputs of a chunk besides aggregates.
pub struct PersonInputs<'a> {
    pub age: &'a [f64],
    pub sex: &'a [f64],
    pub clinic: &'a [f64],
}

/// Evaluates every non-aggregate node of `plan` for the first `n` slots of each
/// column. Aggregate nodes must already be filled.
///
/// Compiled twice (`multiversion`): for the x86-64 baseline and for AVX2
/// machines (4 doubles per instruction instead of 2), chosen once at run time.
/// Both give identical results: each IEEE operation is correctly rounded on
/// every instruction set, and Rust never fuses a multiply and an add. The kernels are `#[inline(always)]` so that each copy gets its own.
#[multiversion::multiversion(targets("x86_64+avx2"))]
pub fn run(
    plan: &Plan,
    chunk: usize,
    n: usize,
    v: &mut [f64],
    ok: &mut [bool],
    inp: &PersonInputs,
) {
    for (k, op) in plan.nodes.iter().enumerate() {
        if matches!(op, Op::Agg(_)) {
            continue;
        }
        let (vb, vr) = v.split_at_mut(k * chunk);
        let (ob, or) = ok.split_at_mut(k * chunk);
        let out_v = &mut vr[..n];
        let out_ok = &mut or[..n];
        let col = |id: NodeId| {
            let s = id as usize * chunk;
            (&vb[s..s + n], &ob[s..s + n])
        };
        match *op {
            Op::Agg(_) => {}
            Op::Num(x) => fill(out_v, out_ok, x, true),
            Op::Str(s) => fill(out_v, out_ok, s as f64, true),
            Op::Bool(b) => fill(out_v, out_ok, b as u8 as f64, true),
            Op::Null => fill(out_v, out_ok, 0.0, false),
            Op::Age => copy(out_v, out_ok, inp.age),
            Op::Sex => copy(out_v, out_ok, inp.sex),
            Op::Clinic => copy(out_v, out_ok, inp.clinic),
            Op::Not(a) => {
                let (av, ao) = col(a);
                for i in 0..n {
                    out_v[i] = (av[i] == 0.0) as u8 as f64;
                }
                out_ok.copy_from_slice(ao);
            }
            Op::Neg(a) => unary(out_v, out_ok, col(a), |x| -x),
            Op::Abs(a) => unary(out_v, out_ok, col(a), f64::abs),
            // `f64::round` rounds half away from zero, as the spec asks.
            Op::Round(a) => unary(out_v, out_ok, col(a), f64::round),
            Op::And(a, b) => and_kleene(out_v, out_ok, col(a), col(b)),
            Op::Or(a, b) => or_kleene(out_v, out_ok, col(a), col(b)),
            Op::Cmp(c, a, b) => {
                let (x, y) = (col(a), col(b));
                match c {
                    CmpOp::Eq => compare(out_v, out_ok, x, y, |x, y| x == y),
                    CmpOp::Ne => compare(out_v, out_ok, x, y, |x, y| x != y),
                    CmpOp::Lt => compare(out_v, out_ok, x, y, |x, y| x < y),
                    CmpOp::Le => compare(out_v, out_ok, x, y, |x, y| x <= y),
                    CmpOp::Gt => compare(out_v, out_ok, x, y, |x, y| x > y),
                    CmpOp::Ge => compare(out_v, out_ok, x, y, |x, y| x >= y),
                }
            }
            Op::Arith(o, a, b) => {
                let (x, y) = (col(a), col(b));
                // Division by zero is null; an undefined result (inf - inf,
                // 0 * inf) is null too; overflow stays ±inf.
                match o {
                    ArithOp::Add => arith(out_v, out_ok, x, y, |x, y| x + y, false),
                    ArithOp::Sub => arith(out_v, out_ok, x, y, |x, y| x - y, false),
                    ArithOp::Mul => arith(out_v, out_ok, x, y, |x, y| x * y, false),
                    ArithOp::Div => arith(out_v, out_ok, x, y, |x, y| x / y, true),
                }
            }
            Op::IsNull { arg, negated } => {
                let (_, ao) = col(arg);
                for i in 0..n {
                    out_v[i] = (ao[i] == negated) as u8 as f64;
                    out_ok[i] = true;
                }
            }
            Op::If(c, a, b) => {
                let ((cv, co), (av, ao), (bv, bo)) = (col(c), col(a), col(b));
                for i in 0..n {
                    // `a` when the condition IS TRUE, else `b` (null condition → b).
                    let pick = co[i] as u8 & (cv[i] != 0.0) as u8;
                    out_v[i] = if pick != 0 { av[i] } else { bv[i] };
                    out_ok[i] = ((pick & ao[i] as u8) | ((pick ^ 1) & bo[i] as u8)) != 0;
                }
            }
            Op::Coalesce(r) => {
                fill(out_v, out_ok, 0.0, false);
                for &a in plan.args_of(r) {
                    let (av, ao) = col(a);
                    for i in 0..n {
                        if !out_ok[i] && ao[i] {
                            out_v[i] = av[i];
                            out_ok[i] = true;
                        }
                    }
                }
            }
            Op::Least(r) => extreme(out_v, out_ok, plan.args_of(r), &col, |x, best| x < best),
            Op::Greatest(r) => extreme(out_v, out_ok, plan.args_of(r), &col, |x, best| x > best),
        }
    }
}

#[inline(always)]
fn fill(v: &mut [f64], ok: &mut [bool], x: f64, valid: bool) {
    v.fill(x);
    ok.fill(valid);
}

#[inline(always)]
fn copy(v: &mut [f64], ok: &mut [bool], src: &[f64]) {
    v.copy_from_slice(src);
    ok.fill(true);
}

#[inline(always)]
fn unary(v: &mut [f64], ok: &mut [bool], (av, ao): (&[f64], &[bool]), f: impl Fn(f64) -> f64) {
    for i in 0..v.len() {
        v[i] = f(av[i]);
        ok[i] = ao[i];
    }
}

/// A comparison (booleans as 0/1); null when either operand is null. One
/// copy per operator, so the loop has no call in it.
#[inline(always)]
fn compare(
    v: &mut [f64],
    ok: &mut [bool],
    (av, ao): (&[f64], &[bool]),
    (bv, bo): (&[f64], &[bool]),
    f: impl Fn(f64, f64) -> bool,
) {
    let n = v.len();
    let (av, ao, bv, bo, ok) = (&av[..n], &ao[..n], &bv[..n], &bo[..n], &mut ok[..n]);
    for i in 0..n {
        v[i] = f(av[i], bv[i]) as u8 as f64;
        ok[i] = ao[i] & bo[i];
    }
}

/// Arithmetic; null when either operand is null, when the result is NaN, or
/// (`div_by_zero_null`) when the divisor is 0.
#[inline(always)]
fn arith(
    v: &mut [f64],
    ok: &mut [bool],
    (av, ao): (&[f64], &[bool]),
    (bv, bo): (&[f64], &[bool]),
    f: impl Fn(f64, f64) -> f64,
    div_by_zero_null: bool,
) {
    let n = v.len();
    let (av, ao, bv, bo, ok) = (&av[..n], &ao[..n], &bv[..n], &bo[..n], &mut ok[..n]);
    for i in 0..n {
        let r = f(av[i], bv[i]);
        let defined = !(r.is_nan() || (div_by_zero_null && bv[i] == 0.0));
        v[i] = r;
        ok[i] = ao[i] & bo[i] & defined;
    }
}

// The Kleene kernels compute on 0/1 bytes (`t`: valid and true, `f`: valid and
// false) rather than `bool`s and branches, so that the loops vectorise.

/// Kleene `and`: false wins over null; true only when both are true.
#[inline(always)]
fn and_kleene(
    v: &mut [f64],
    ok: &mut [bool],
    (av, ao): (&[f64], &[bool]),
    (bv, bo): (&[f64], &[bool]),
) {
    let n = v.len();
    let (av, ao, bv, bo, ok) = (&av[..n], &ao[..n], &bv[..n], &bo[..n], &mut ok[..n]);
    for i in 0..n {
        let (a, b) = ((av[i] != 0.0) as u8, (bv[i] != 0.0) as u8);
        let (ao, bo) = (ao[i] as u8, bo[i] as u8);
        let t = ao & a & bo & b;
        v[i] = t as f64;
        ok[i] = (t | (ao & (a ^ 1)) | (bo & (b ^ 1))) != 0;
    }
}

/// Kleene `or`: true wins over null; false only when both are false.
#[inline(always)]
fn or_kleene(
    v: &mut [f64],
    ok: &mut [bool],
    (av, ao): (&[f64], &[bool]),
    (bv, bo): (&[f64], &[bool]),
) {
    let n = v.len();
    let (av, ao, bv, bo, ok) = (&av[..n], &ao[..n], &bv[..n], &bo[..n], &mut ok[..n]);
    for i in 0..n {
        let (a, b) = ((av[i] != 0.0) as u8, (bv[i] != 0.0) as u8);
        let (ao, bo) = (ao[i] as u8, bo[i] as u8);
        let t = (ao & a) | (bo & b);
        v[i] = t as f64;
        ok[i] = (t | (ao & (a ^ 1) & bo & (b ^ 1))) != 0;
    }
}

/// `least`/`greatest`: nulls ignored; null only when every operand is null.
#[inline(always)]
fn extreme<'a>(
    v: &mut [f64],
    ok: &mut [bool],
    args: &[NodeId],
    col: &impl Fn(NodeId) -> (&'a [f64], &'a [bool]),
    better: impl Fn(f64, f64) -> bool,
) {
    fill(v, ok, 0.0, false);
    for &a in args {
        let (av, ao) = col(a);
        for i in 0..v.len() {
            if ao[i] && (!ok[i] || better(av[i], v[i])) {
                v[i] = av[i];
                ok[i] = true;
            }
        }
    }
}
