//! Column-wise evaluation of the flat program over one chunk of people.
//!
//! Every node owns a column of `chunk` slots in three flat buffers: numbers
//! (`f64`; strings as string ids), truth values (`u8`, 0 or 1) and validity
//! (`false` = null). A node keeps its value in the buffer of its [`Repr`]:
//! booleans in the truth buffer, a byte each, so the logic of a criterion
//! moves an eighth of the bytes and runs 32 slots per AVX2 instruction, not 4.
//! A node reads only columns of earlier nodes. Kernels compute validity
//! explicitly from their operands' validity; the value in an invalid slot is
//! never read for its own sake (it may be combined and then masked out), and
//! a truth value is always 0 or 1.
//!
//! Kleene truth tables (`N` = null):
//!
//! | a \ b | T | F | N |      | a \ b | T | F | N |
//! |-------|---|---|---|      |-------|---|---|---|
//! | **and T** | T | F | N |  | **or T** | T | T | T |
//! | **and F** | F | F | F |  | **or F** | T | F | N |
//! | **and N** | N | F | N |  | **or N** | T | N | N |

use crate::lang::ir::{AggFunc, ArithOp, CmpOp};
use crate::plan::{NodeId, Op, Plan};

/// Where a node's values are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repr {
    /// Numbers and strings (ids): the `f64` buffer.
    Num,
    /// Booleans: the truth buffer.
    Bool,
    /// The literal `null` and expressions made only of it: never valid; both
    /// buffers hold 0, so any consumer may read either.
    Null,
}

/// The [`Repr`] of every node of `plan`. Aggregates write both buffers
/// (booleans as 0/1 numbers too, which the evidence reads).
pub fn node_reprs(plan: &Plan) -> Vec<Repr> {
    let mut reprs: Vec<Repr> = Vec::with_capacity(plan.nodes.len());
    for op in &plan.nodes {
        // A choice between operands (`if`, `coalesce`) has their type, or is
        // null when every one is.
        let merge = |args: &mut dyn Iterator<Item = NodeId>, reprs: &[Repr]| {
            args.map(|a| reprs[a as usize])
                .find(|&r| r != Repr::Null)
                .unwrap_or(Repr::Null)
        };
        let r = match *op {
            Op::Num(_) | Op::Str(_) | Op::Age | Op::Sex | Op::Clinic => Repr::Num,
            Op::Neg(_) | Op::Abs(_) | Op::Round(_) | Op::Arith(..) => Repr::Num,
            Op::Least(_) | Op::Greatest(_) => Repr::Num,
            Op::Bool(_) | Op::Not(_) | Op::And(..) | Op::Or(..) | Op::Cmp(..) => Repr::Bool,
            Op::IsNull { .. } => Repr::Bool,
            Op::Null => Repr::Null,
            Op::Agg(a) => match plan.aggregates[a as usize].func {
                AggFunc::Has | AggFunc::Active => Repr::Bool,
                _ => Repr::Num,
            },
            Op::If(_, a, b) => merge(&mut [a, b].into_iter(), &reprs),
            Op::Coalesce(r) => merge(&mut plan.args_of(r).iter().copied(), &reprs),
        };
        reprs.push(r);
    }
    reprs
}

/// A chunk's columns: node `k`'s slots are `k * chunk..k * chunk + n` of
/// each buffer.
pub struct Columns<'a> {
    pub v: &'a mut [f64],
    pub t: &'a mut [u8],
    pub ok: &'a mut [bool],
}

/// Per-person inputs of a chunk besides aggregates.
pub struct PersonInputs<'a> {
    pub age: &'a [f64],
    pub sex: &'a [f64],
    pub clinic: &'a [f64],
}

/// Evaluates every non-aggregate node of `plan` (whose [`Repr`]s are
/// `reprs`) for the first `n` slots of each column. Aggregate nodes must
/// already be filled.
///
/// Compiled twice (`multiversion`): for the x86-64 baseline and for AVX2
/// machines (4 doubles or 32 bytes per instruction instead of 2 or 16),
/// chosen once at run time. Both give identical results: each IEEE operation
/// is correctly rounded on every instruction set, and Rust never fuses a
/// multiply and an add. The kernels are `#[inline(always)]` so that each copy
/// gets its own.
#[multiversion::multiversion(targets("x86_64+avx2"))]
pub fn run<'c>(
    plan: &Plan,
    reprs: &[Repr],
    chunk: usize,
    n: usize,
    cols: Columns<'c>,
    inp: &PersonInputs,
) {
    let Columns { v, t, ok } = cols;
    for (k, op) in plan.nodes.iter().enumerate() {
        if matches!(op, Op::Agg(_)) {
            continue;
        }
        let (vb, vr) = v.split_at_mut(k * chunk);
        let (tb, tr) = t.split_at_mut(k * chunk);
        let (ob, or) = ok.split_at_mut(k * chunk);
        let out_v = &mut vr[..n];
        let out_t = &mut tr[..n];
        let out_ok = &mut or[..n];
        let num = |id: NodeId| {
            let s = id as usize * chunk;
            (&vb[s..s + n], &ob[s..s + n])
        };
        let truth = |id: NodeId| {
            let s = id as usize * chunk;
            (&tb[s..s + n], &ob[s..s + n])
        };
        match *op {
            Op::Agg(_) => {}
            Op::Num(x) => fill(out_v, out_ok, x, true),
            Op::Str(s) => fill(out_v, out_ok, s as f64, true),
            Op::Bool(b) => fill(out_t, out_ok, b as u8, true),
            Op::Null => {
                fill(out_v, out_ok, 0.0, false);
                out_t.fill(0);
            }
            Op::Age => copy(out_v, out_ok, inp.age),
            Op::Sex => copy(out_v, out_ok, inp.sex),
            Op::Clinic => copy(out_v, out_ok, inp.clinic),
            Op::Not(a) => {
                let (at, ao) = truth(a);
                for i in 0..n {
                    out_t[i] = at[i] ^ 1;
                }
                out_ok.copy_from_slice(ao);
            }
            Op::Neg(a) => unary(out_v, out_ok, num(a), |x| -x),
            Op::Abs(a) => unary(out_v, out_ok, num(a), f64::abs),
            // `f64::round` rounds half away from zero, as the spec asks.
            Op::Round(a) => unary(out_v, out_ok, num(a), f64::round),
            Op::And(a, b) => and_kleene(out_t, out_ok, truth(a), truth(b)),
            Op::Or(a, b) => or_kleene(out_t, out_ok, truth(a), truth(b)),
            Op::Cmp(c, a, b) => {
                // Booleans compare as 0 < 1 (only `=` and `!=` reach here);
                // a null operand makes the result null whatever is read.
                let bools = reprs[a as usize] == Repr::Bool || reprs[b as usize] == Repr::Bool;
                if bools {
                    compare(c, out_t, out_ok, truth(a), truth(b));
                } else {
                    compare(c, out_t, out_ok, num(a), num(b));
                }
            }
            Op::Arith(o, a, b) => {
                let (x, y) = (num(a), num(b));
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
                let (_, ao) = num(arg);
                for i in 0..n {
                    out_t[i] = (ao[i] == negated) as u8;
                    out_ok[i] = true;
                }
            }
            Op::If(c, a, b) => {
                let (ct, co) = truth(c);
                // `a` when the condition IS TRUE, else `b` (null condition → b).
                let pick = |i: usize| co[i] as u8 & ct[i];
                let (ao, bo) = (num(a).1, num(b).1);
                for i in 0..n {
                    let p = pick(i);
                    out_ok[i] = ((p & ao[i] as u8) | ((p ^ 1) & bo[i] as u8)) != 0;
                }
                if reprs[k] != Repr::Bool {
                    let (av, bv) = (num(a).0, num(b).0);
                    for i in 0..n {
                        out_v[i] = if pick(i) != 0 { av[i] } else { bv[i] };
                    }
                }
                if reprs[k] != Repr::Num {
                    let (at, bt) = (truth(a).0, truth(b).0);
                    for i in 0..n {
                        out_t[i] = if pick(i) != 0 { at[i] } else { bt[i] };
                    }
                }
            }
            Op::Coalesce(r) => {
                fill(out_v, out_ok, 0.0, false);
                out_t.fill(0);
                for &a in plan.args_of(r) {
                    let ((av, ao), (at, _)) = (num(a), truth(a));
                    for i in 0..n {
                        if !out_ok[i] && ao[i] {
                            out_v[i] = av[i];
                            out_t[i] = at[i];
                            out_ok[i] = true;
                        }
                    }
                }
            }
            Op::Least(r) => extreme(out_v, out_ok, plan.args_of(r), &num, |x, best| x < best),
            Op::Greatest(r) => extreme(out_v, out_ok, plan.args_of(r), &num, |x, best| x > best),
        }
    }
}

#[inline(always)]
fn fill<T: Copy>(v: &mut [T], ok: &mut [bool], x: T, valid: bool) {
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

/// A comparison into truth values; null when either operand is null.
#[inline(always)]
fn compare<T: PartialOrd + Copy>(
    c: CmpOp,
    t: &mut [u8],
    ok: &mut [bool],
    x: (&[T], &[bool]),
    y: (&[T], &[bool]),
) {
    // One loop per operator, so that it has no call or branch in it.
    match c {
        CmpOp::Eq => compare_with(t, ok, x, y, |x, y| x == y),
        CmpOp::Ne => compare_with(t, ok, x, y, |x, y| x != y),
        CmpOp::Lt => compare_with(t, ok, x, y, |x, y| x < y),
        CmpOp::Le => compare_with(t, ok, x, y, |x, y| x <= y),
        CmpOp::Gt => compare_with(t, ok, x, y, |x, y| x > y),
        CmpOp::Ge => compare_with(t, ok, x, y, |x, y| x >= y),
    }
}

#[inline(always)]
fn compare_with<T: Copy>(
    t: &mut [u8],
    ok: &mut [bool],
    (av, ao): (&[T], &[bool]),
    (bv, bo): (&[T], &[bool]),
    f: impl Fn(T, T) -> bool,
) {
    let n = t.len();
    let (av, ao, bv, bo, ok) = (&av[..n], &ao[..n], &bv[..n], &bo[..n], &mut ok[..n]);
    for i in 0..n {
        t[i] = f(av[i], bv[i]) as u8;
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
    t: &mut [u8],
    ok: &mut [bool],
    (at, ao): (&[u8], &[bool]),
    (bt, bo): (&[u8], &[bool]),
) {
    let n = t.len();
    let (at, ao, bt, bo, ok) = (&at[..n], &ao[..n], &bt[..n], &bo[..n], &mut ok[..n]);
    for i in 0..n {
        let (a, b) = (at[i], bt[i]);
        let (ao, bo) = (ao[i] as u8, bo[i] as u8);
        let tr = ao & a & bo & b;
        t[i] = tr;
        ok[i] = (tr | (ao & (a ^ 1)) | (bo & (b ^ 1))) != 0;
    }
}

/// Kleene `or`: true wins over null; false only when both are false.
#[inline(always)]
fn or_kleene(
    t: &mut [u8],
    ok: &mut [bool],
    (at, ao): (&[u8], &[bool]),
    (bt, bo): (&[u8], &[bool]),
) {
    let n = t.len();
    let (at, ao, bt, bo, ok) = (&at[..n], &ao[..n], &bt[..n], &bo[..n], &mut ok[..n]);
    for i in 0..n {
        let (a, b) = (at[i], bt[i]);
        let (ao, bo) = (ao[i] as u8, bo[i] as u8);
        let tr = (ao & a) | (bo & b);
        t[i] = tr;
        ok[i] = (tr | (ao & (a ^ 1) & bo & (b ^ 1))) != 0;
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
