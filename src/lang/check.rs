//! The type checker: [`ast::Expr`] to typed [`ir::Expr`], resolving names,
//! value sets and functions. Every error of an expression is collected; a
//! subexpression with an error yields `None` and its parents check their other
//! operands but report nothing more about it (no cascades).
//!
//! Diagnostics produced here carry spans relative to the expression string;
//! the library layer maps them into the TOML file.

use std::collections::{HashMap, HashSet};

use super::ast::{self, BinOp, ExprKind as A};
use super::diag::Diagnostic;
use super::ir::{
    AggFunc, Aggregate, CmpOp, DefId, Expr, ExprKind, Literal, Span, Type, ValueSetId, Window,
};
use super::lexer::{KEYWORDS, WindowUnit};
use crate::data::EventKind;

/// The value-set kind prefixes and the event kind each one matches.
pub const VALUE_SET_KINDS: [(&str, EventKind); 6] = [
    ("dx", EventKind::Diagnosis),
    ("lab", EventKind::Measurement),
    ("med", EventKind::Medication),
    ("proc", EventKind::Procedure),
    ("imm", EventKind::Immunization),
    ("visit", EventKind::Visit),
];

pub fn kind_prefix(kind: EventKind) -> &'static str {
    VALUE_SET_KINDS
        .iter()
        .find(|(_, k)| *k == kind)
        .map_or("?", |(p, _)| p)
}

/// Event functions: name, aggregate, the kind they require (if any).
const EVENT_FUNCTIONS: [(&str, AggFunc, Option<EventKind>); 10] = [
    ("has", AggFunc::Has, None),
    ("count", AggFunc::Count, None),
    ("last", AggFunc::Last, Some(EventKind::Measurement)),
    ("first", AggFunc::First, Some(EventKind::Measurement)),
    ("min", AggFunc::Min, Some(EventKind::Measurement)),
    ("max", AggFunc::Max, Some(EventKind::Measurement)),
    ("mean", AggFunc::Mean, Some(EventKind::Measurement)),
    ("days_since", AggFunc::DaysSince, None),
    ("days_since_first", AggFunc::DaysSinceFirst, None),
    ("active", AggFunc::Active, Some(EventKind::Medication)),
];

const OTHER_FUNCTIONS: [&str; 6] = ["if", "coalesce", "abs", "round", "least", "greatest"];

/// Every function name of the language.
pub fn function_names() -> impl Iterator<Item = &'static str> {
    EVENT_FUNCTIONS
        .iter()
        .map(|(n, ..)| *n)
        .chain(OTHER_FUNCTIONS.iter().copied())
}

/// Person attributes, always meant by these bare names.
pub const ATTRIBUTES: [(&str, Type); 3] = [
    ("age", Type::Num),
    ("sex", Type::Str),
    ("clinic", Type::Str),
];

/// What a definition name stands for while checking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefSlot {
    /// Checked: its index in the library and its type.
    Ready { id: DefId, ty: Type },
    /// Has an error of its own (reported where it is defined): uses are silent.
    Broken,
}

/// The names an expression may refer to.
pub struct Scope<'a> {
    /// `kind.name` to value set.
    pub value_sets: &'a HashMap<String, (ValueSetId, EventKind)>,
    /// Value sets declared with an error of their own: uses are silent.
    pub broken_value_sets: &'a HashSet<String>,
    pub defs: &'a HashMap<String, DefSlot>,
}

pub fn type_name(ty: Type) -> &'static str {
    match ty {
        Type::Bool => "boolean",
        Type::Num => "number",
        Type::Str => "string",
        Type::Null => "null",
    }
}

fn a_type(ty: Type) -> &'static str {
    match ty {
        Type::Bool => "a boolean",
        Type::Num => "a number",
        Type::Str => "a string",
        Type::Null => "null",
    }
}

/// The common type of two values, `null` fitting every type.
pub fn unify(a: Type, b: Type) -> Option<Type> {
    match (a, b) {
        (Type::Null, t) | (t, Type::Null) => Some(t),
        (a, b) if a == b => Some(a),
        _ => None,
    }
}

fn err(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
    Diagnostic::error(code, message).at("", span.start as usize..span.end as usize)
}

fn range(span: Span) -> std::ops::Range<usize> {
    span.start as usize..span.end as usize
}

/// Edit distance, for "did you mean" hints.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The closest candidate, if close enough to be a likely typo.
pub fn suggest<'c>(name: &str, candidates: impl Iterator<Item = &'c str>) -> Option<&'c str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .map(|c| (distance(name, c), c))
        .filter(|&(d, _)| d <= limit)
        .min()
        .map(|(_, c)| c)
}

/// Checks one expression. `None` when it has an error (all of them pushed to `out`).
pub fn check(e: &ast::Expr, scope: &Scope<'_>, out: &mut Vec<Diagnostic>) -> Option<Expr> {
    Checker { scope, out }.expr(e)
}

struct Checker<'s, 'o> {
    scope: &'s Scope<'s>,
    out: &'o mut Vec<Diagnostic>,
}

fn typed(ty: Type, span: Span, kind: ExprKind) -> Option<Expr> {
    Some(Expr { ty, span, kind })
}

impl Checker<'_, '_> {
    fn expr(&mut self, e: &ast::Expr) -> Option<Expr> {
        let span = e.span;
        match &e.kind {
            A::Num(n) => typed(Type::Num, span, ExprKind::Lit(Literal::Num(*n))),
            A::Str(s) => typed(Type::Str, span, ExprKind::Lit(Literal::Str(s.clone()))),
            A::Bool(b) => typed(Type::Bool, span, ExprKind::Lit(Literal::Bool(*b))),
            A::Null => typed(Type::Null, span, ExprKind::Lit(Literal::Null)),
            A::Name(name) => self.name(name, span),
            A::ValueSet { kind, name } => {
                self.out.push(
                    err("E0208", span, format!("value set `{kind}.{name}` used as a value"))
                        .label("a value set is only an argument of an event function")
                        .help(format!(
                            "call a function on it, e.g. `has({kind}.{name})` or `count({kind}.{name}, 12mo)`"
                        )),
                );
                None
            }
            A::Window(..) => {
                self.out.push(window_misplaced(
                    span,
                    "a window is only the window argument of an event function",
                ));
                None
            }
            A::Call {
                name,
                name_span,
                args,
            } => self.call(name, *name_span, args, span),
            A::Not(x) => {
                let x = self.operand(x, Type::Bool, "`not`");
                typed(Type::Bool, span, ExprKind::Not(Box::new(x?)))
            }
            A::Neg(x) => {
                let x = self.operand(x, Type::Num, "unary `-`");
                typed(Type::Num, span, ExprKind::Neg(Box::new(x?)))
            }
            A::Binary(op, a, b) => self.binary(*op, a, b, span),
            A::Between(x, lo, hi) => {
                let x = self.operand(x, Type::Num, "`between`");
                let lo = self.operand(lo, Type::Num, "`between`");
                let hi = self.operand(hi, Type::Num, "`between`");
                typed(
                    Type::Bool,
                    span,
                    ExprKind::Between(Box::new(x?), Box::new(lo?), Box::new(hi?)),
                )
            }
            A::In(x, items) => {
                let mut all = vec![self.expr(x)];
                all.extend(items.iter().map(|i| self.expr(i)));
                self.same_type(&all, "`in` compares values of one type", "the value tested");
                let mut all = all.into_iter().collect::<Option<Vec<_>>>()?;
                let x = all.remove(0);
                typed(Type::Bool, span, ExprKind::In(Box::new(x), all))
            }
            A::IsNull { expr, negated } => {
                let x = self.expr(expr)?;
                typed(
                    Type::Bool,
                    span,
                    ExprKind::IsNull {
                        expr: Box::new(x),
                        negated: *negated,
                    },
                )
            }
        }
    }

    fn name(&mut self, name: &str, span: Span) -> Option<Expr> {
        match name {
            "age" => return typed(Type::Num, span, ExprKind::Age),
            "sex" => return typed(Type::Str, span, ExprKind::Sex),
            "clinic" => return typed(Type::Str, span, ExprKind::Clinic),
            _ => {}
        }
        match self.scope.defs.get(name) {
            Some(DefSlot::Ready { id, ty }) => typed(*ty, span, ExprKind::Def(*id)),
            Some(DefSlot::Broken) => None,
            None => {
                let lower = name.to_lowercase();
                let help = if KEYWORDS.contains(&lower.as_str()) {
                    Some(format!("keywords are lower case: write `{lower}`"))
                } else if function_names().any(|f| f == name || f == lower) {
                    Some(format!(
                        "`{lower}` is a function: call it, e.g. `{lower}(...)`"
                    ))
                } else {
                    let names = ATTRIBUTES
                        .iter()
                        .map(|(n, _)| *n)
                        .chain(self.scope.defs.keys().map(String::as_str));
                    suggest(name, names).map(|s| format!("did you mean `{s}`?"))
                };
                let mut d = err("E0201", span, format!("unknown name `{name}`"))
                    .label("not a definition or a person attribute")
                    .note("a bare name is `age`, `sex`, `clinic` or a definition from a [define] table");
                if let Some(h) = help {
                    d = d.help(h);
                }
                self.out.push(d);
                None
            }
        }
    }

    /// Checks an operand that must have type `want` (or be null).
    fn operand(&mut self, e: &ast::Expr, want: Type, context: &str) -> Option<Expr> {
        let x = self.expr(e)?;
        if unify(x.ty, want) == Some(want) {
            return Some(x);
        }
        let mut d = err(
            "E0211",
            x.span,
            format!("{context} takes {}, found {}", plural(want), a_type(x.ty)),
        )
        .label(format!("this is {}", a_type(x.ty)));
        if let Some(def) = self.def_name(e) {
            d = d.note(format!("`{def}` is defined as {}", a_type(x.ty)));
        }
        match (x.ty, want) {
            (Type::Bool, Type::Num) => {
                d = d.help("turn a condition into a number with `if(condition, 1, 0)`")
            }
            (Type::Num, Type::Bool) => {
                d = d.help("compare the number to make a condition, e.g. `x > 0`")
            }
            _ => {}
        }
        self.out.push(d);
        None
    }

    /// Checks expressions only for the errors they hold.
    fn check_all(&mut self, args: &[ast::Expr]) {
        for a in args {
            let _ = self.expr(a);
        }
    }

    fn def_name<'e>(&self, e: &'e ast::Expr) -> Option<&'e str> {
        match &e.kind {
            A::Name(n) if self.scope.defs.contains_key(n) => Some(n),
            _ => None,
        }
    }

    /// Reports every value whose type differs from the first non-null one.
    fn same_type(&mut self, items: &[Option<Expr>], message: &str, first_label: &str) {
        let Some((ri, reference)) = items
            .iter()
            .enumerate()
            .find_map(|(i, x)| x.as_ref().filter(|x| x.ty != Type::Null).map(|x| (i, x)))
        else {
            return;
        };
        for x in items.iter().flatten() {
            if unify(x.ty, reference.ty).is_some() {
                continue;
            }
            let other = if ri == 0 {
                format!("{first_label} is {}", a_type(reference.ty))
            } else {
                format!("this is {}", a_type(reference.ty))
            };
            self.out.push(
                err(
                    "E0212",
                    x.span,
                    format!(
                        "{message}: found {} and {}",
                        a_type(reference.ty),
                        a_type(x.ty)
                    ),
                )
                .label(format!("this is {}", a_type(x.ty)))
                .secondary(range(reference.span), other),
            );
        }
    }

    fn binary(&mut self, op: BinOp, a: &ast::Expr, b: &ast::Expr, span: Span) -> Option<Expr> {
        match op {
            BinOp::Or | BinOp::And => {
                let name = if op == BinOp::Or { "`or`" } else { "`and`" };
                let a = self.operand(a, Type::Bool, name);
                let b = self.operand(b, Type::Bool, name);
                let (a, b) = (Box::new(a?), Box::new(b?));
                let kind = if op == BinOp::Or {
                    ExprKind::Or(a, b)
                } else {
                    ExprKind::And(a, b)
                };
                typed(Type::Bool, span, kind)
            }
            BinOp::Cmp(cmp @ (CmpOp::Eq | CmpOp::Ne)) => {
                let items = [self.expr(a), self.expr(b)];
                self.same_type(
                    &items,
                    &format!("`{}` compares values of one type", ast::cmp_symbol(cmp)),
                    "the left operand",
                );
                let [a, b] = items;
                let (a, b) = (a?, b?);
                unify(a.ty, b.ty)?;
                typed(
                    Type::Bool,
                    span,
                    ExprKind::Cmp(cmp, Box::new(a), Box::new(b)),
                )
            }
            BinOp::Cmp(cmp) => {
                let name = format!("`{}`", ast::cmp_symbol(cmp));
                let a = self.operand(a, Type::Num, &name);
                let b = self.operand(b, Type::Num, &name);
                typed(
                    Type::Bool,
                    span,
                    ExprKind::Cmp(cmp, Box::new(a?), Box::new(b?)),
                )
            }
            BinOp::Arith(arith) => {
                let name = format!("`{}`", ast::arith_symbol(arith));
                let a = self.operand(a, Type::Num, &name);
                let b = self.operand(b, Type::Num, &name);
                typed(
                    Type::Num,
                    span,
                    ExprKind::Arith(arith, Box::new(a?), Box::new(b?)),
                )
            }
        }
    }

    fn call(
        &mut self,
        name: &str,
        name_span: Span,
        args: &[ast::Expr],
        span: Span,
    ) -> Option<Expr> {
        if let Some(&(_, func, kind)) = EVENT_FUNCTIONS.iter().find(|(n, ..)| *n == name) {
            return self.event_call(name, func, kind, args, span);
        }
        let arity = |this: &mut Self, min: usize, max: Option<usize>, what: &str| -> bool {
            let n = args.len();
            let ok = n >= min && max.is_none_or(|m| n <= m);
            if !ok {
                this.out.push(
                    err(
                        "E0205",
                        span,
                        format!(
                            "`{name}` takes {what}, found {n} argument{}",
                            if n == 1 { "" } else { "s" }
                        ),
                    )
                    .label("wrong number of arguments"),
                );
            }
            ok
        };
        match name {
            "if" => {
                if !arity(self, 3, Some(3), "3 arguments (condition, then, else)") {
                    self.check_all(args);
                    return None;
                }
                let c = self.operand(&args[0], Type::Bool, "the condition of `if`");
                let branches = [self.expr(&args[1]), self.expr(&args[2])];
                self.same_type(
                    &branches,
                    "the branches of `if` must have one type",
                    "the first branch",
                );
                let [t, f] = branches;
                let (c, t, f) = (c?, t?, f?);
                let ty = unify(t.ty, f.ty)?;
                typed(
                    ty,
                    span,
                    ExprKind::If(Box::new(c), Box::new(t), Box::new(f)),
                )
            }
            "coalesce" => {
                if !arity(self, 1, None, "one or more arguments") {
                    return None;
                }
                let items: Vec<_> = args.iter().map(|a| self.expr(a)).collect();
                self.same_type(
                    &items,
                    "`coalesce` takes values of one type",
                    "the first argument",
                );
                let items = items.into_iter().collect::<Option<Vec<_>>>()?;
                let ty = items.iter().try_fold(Type::Null, |t, x| unify(t, x.ty))?;
                typed(ty, span, ExprKind::Coalesce(items))
            }
            "abs" | "round" => {
                if !arity(self, 1, Some(1), "1 argument") {
                    self.check_all(args);
                    return None;
                }
                let x = Box::new(self.operand(&args[0], Type::Num, &format!("`{name}`"))?);
                let kind = if name == "abs" {
                    ExprKind::Abs(x)
                } else {
                    ExprKind::Round(x)
                };
                typed(Type::Num, span, kind)
            }
            "least" | "greatest" => {
                if !arity(self, 1, None, "one or more arguments") {
                    return None;
                }
                let items: Vec<_> = args
                    .iter()
                    .map(|a| self.operand(a, Type::Num, &format!("`{name}`")))
                    .collect();
                let items = items.into_iter().collect::<Option<Vec<_>>>()?;
                let kind = if name == "least" {
                    ExprKind::Least(items)
                } else {
                    ExprKind::Greatest(items)
                };
                typed(Type::Num, span, kind)
            }
            _ => {
                let lower = name.to_lowercase();
                let help = if function_names().any(|f| f == lower) {
                    Some(format!("function names are lower case: write `{lower}`"))
                } else if self.scope.defs.contains_key(name) {
                    Some(format!(
                        "`{name}` is a definition: use it by its bare name, without parentheses"
                    ))
                } else {
                    suggest(name, function_names()).map(|s| format!("did you mean `{s}`?"))
                };
                let mut d = err("E0202", name_span, format!("unknown function `{name}`"))
                    .label("no function of that name")
                    .note(format!(
                        "the functions are {}",
                        function_names().collect::<Vec<_>>().join(", ")
                    ));
                if let Some(h) = help {
                    d = d.help(h);
                }
                self.out.push(d);
                // Still check the arguments for errors of their own.
                for a in args {
                    if !matches!(a.kind, A::ValueSet { .. } | A::Window(..)) {
                        let _ = self.expr(a);
                    }
                }
                None
            }
        }
    }

    fn event_call(
        &mut self,
        name: &str,
        func: AggFunc,
        required: Option<EventKind>,
        args: &[ast::Expr],
        span: Span,
    ) -> Option<Expr> {
        let windowless = matches!(func, AggFunc::DaysSince | AggFunc::DaysSinceFirst);
        let signature = if windowless {
            format!("`{name}(VS)`")
        } else if func == AggFunc::Active {
            format!("`{name}(VS)` or `{name}(VS, grace)`")
        } else {
            format!("`{name}(VS)` or `{name}(VS, window)`")
        };
        if windowless && args.len() == 2 && matches!(args[1].kind, A::Window(..)) {
            self.out.push(
                window_misplaced(args[1].span, &format!("`{name}` takes no window")).note(format!(
                    "{signature} counts from the matching event to as_of over all history"
                )),
            );
            self.value_set_arg(name, required, &args[0]);
            return None;
        }
        let max = if windowless { 1 } else { 2 };
        if args.is_empty() || args.len() > max {
            self.out.push(
                err(
                    "E0205",
                    span,
                    format!(
                        "`{name}` takes {}, found {} argument{}",
                        if windowless {
                            "1 argument"
                        } else {
                            "1 or 2 arguments"
                        },
                        args.len(),
                        if args.len() == 1 { "" } else { "s" }
                    ),
                )
                .label("wrong number of arguments")
                .help(format!("write {signature}")),
            );
            return None;
        }
        let value_set = self.value_set_arg(name, required, &args[0]);
        let window = match args.get(1) {
            None => Some(None),
            Some(arg) => self.window_arg(name, func, arg).map(Some),
        };
        let (value_set, window) = (value_set?, window?);
        let ty = match func {
            AggFunc::Has | AggFunc::Active => Type::Bool,
            _ => Type::Num,
        };
        typed(
            ty,
            span,
            ExprKind::Agg(Aggregate {
                func,
                value_set,
                window,
            }),
        )
    }

    fn value_set_arg(
        &mut self,
        func: &str,
        required: Option<EventKind>,
        arg: &ast::Expr,
    ) -> Option<ValueSetId> {
        let A::ValueSet { kind, name } = &arg.kind else {
            let mut d = err(
                "E0209",
                arg.span,
                format!("`{func}` takes a value set as its first argument"),
            )
            .label("expected a value set such as `dx.diabetes`");
            if let A::Name(n) = &arg.kind {
                let matches: Vec<String> = self
                    .scope
                    .value_sets
                    .keys()
                    .filter(|k| k.split_once('.').is_some_and(|(_, v)| v == n))
                    .cloned()
                    .collect();
                if let Some(m) = matches.iter().min() {
                    d = d.help(format!("a value set is written with its kind: `{m}`"));
                }
            } else if !matches!(arg.kind, A::Window(..)) {
                // Report the argument's own errors too.
                let _ = self.expr(arg);
            }
            self.out.push(d);
            return None;
        };
        let full = format!("{kind}.{name}");
        let Some(&(id, vs_kind)) = self.scope.value_sets.get(&full) else {
            if self.scope.broken_value_sets.contains(&full) {
                return None;
            }
            let known_kind = VALUE_SET_KINDS.iter().any(|(p, _)| p == kind);
            let mut d = err("E0203", arg.span, format!("unknown value set `{full}`"))
                .label("no value set of that name");
            if !known_kind {
                d = d.note(format!(
                    "value set kinds are {}",
                    VALUE_SET_KINDS.map(|(p, _)| p).join(", ")
                ));
            }
            let same_kind: Vec<&str> = self.scope.value_sets.keys().map(String::as_str).collect();
            if let Some(s) = suggest(&full, same_kind.into_iter()) {
                d = d.help(format!("did you mean `{s}`?"));
            } else if known_kind {
                d = d.help(format!("define it in a table `[{full}]`"));
            }
            self.out.push(d);
            return None;
        };
        if let Some(required) = required
            && vs_kind != required
        {
            let want = kind_prefix(required);
            self.out.push(
                err(
                    "E0204",
                    arg.span,
                    format!("`{func}` takes a `{want}.*` value set, found `{full}`"),
                )
                .label(format!(
                    "a `{kind}` value set matches {} events",
                    vs_kind.as_str()
                ))
                .note(if required == EventKind::Medication {
                    "`active` reads medication supplies".to_string()
                } else {
                    format!("`{func}` reads measurement values")
                })
                .help(if required == EventKind::Medication {
                    "use `has` or `count` for other kinds of events".to_string()
                } else {
                    "use `has`, `count` or `days_since` for events without values".to_string()
                }),
            );
            return None;
        }
        Some(id)
    }

    fn window_arg(&mut self, func: &str, agg: AggFunc, arg: &ast::Expr) -> Option<Window> {
        let A::Window(n, unit) = arg.kind else {
            let what = if agg == AggFunc::Active {
                "grace period"
            } else {
                "window"
            };
            let d = err(
                "E0210",
                arg.span,
                format!("the second argument of `{func}` must be a {what}"),
            )
            .label(format!(
                "expected a {what} such as {}",
                if agg == AggFunc::Active {
                    "`30d`"
                } else {
                    "`12mo`"
                }
            ))
            .note("a window is a whole number followed by `d`, `mo` or `y`; it cannot be computed");
            if !matches!(arg.kind, A::ValueSet { .. }) {
                let _ = self.expr(arg);
            }
            self.out.push(d);
            return None;
        };
        if agg == AggFunc::Active && unit != WindowUnit::Days {
            self.out.push(
                err(
                    "E0207",
                    arg.span,
                    "the grace period of `active` must be in days",
                )
                .label(format!("`{n}{}` is not a `d` window", unit.suffix()))
                .help("write the grace in days, e.g. `active(med.statin, 30d)`"),
            );
            return None;
        }
        Some(match unit {
            WindowUnit::Days => Window::Days(n),
            WindowUnit::Months => Window::Months(n),
            // The lexer rejects counts whose months overflow.
            WindowUnit::Years => Window::Months(n.saturating_mul(12)),
        })
    }
}

fn plural(ty: Type) -> &'static str {
    match ty {
        Type::Bool => "booleans",
        Type::Num => "numbers",
        Type::Str => "strings",
        Type::Null => "nulls",
    }
}

fn window_misplaced(span: Span, label: &str) -> Diagnostic {
    err("E0206", span, "a window where none fits")
        .label(label)
        .note(
            "windows are the second argument of has, count, last, first, min, max, mean and active",
        )
}

/// The names of definitions (not attributes) an expression refers to, in order
/// of appearance, with repeats.
pub fn referenced_names(e: &ast::Expr) -> Vec<&str> {
    let mut names = Vec::new();
    e.kind.walk(&mut |k| {
        if let A::Name(n) = k
            && !ATTRIBUTES.iter().any(|(a, _)| a == n)
        {
            names.push(n.as_str());
        }
    });
    names
}
