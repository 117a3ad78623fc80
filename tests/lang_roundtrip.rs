//! Property: a random syntax tree, pretty-printed and parsed again, is the
//! same tree (precedence, associativity and parenthesisation agree).

use caregap::lang::ast::{BinOp, Expr, ExprKind};
use caregap::lang::ir::{ArithOp, CmpOp, Span};
use caregap::lang::lexer::{self, WindowUnit};
use caregap::lang::parser;
use proptest::prelude::*;

fn node(kind: ExprKind) -> Expr {
    Expr {
        span: Span::default(),
        kind,
    }
}

fn ident() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_]{0,6}".prop_filter("not a keyword", |s| lexer::is_identifier(s))
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        (0u32..100_000).prop_map(|n| node(ExprKind::Num(n as f64))),
        (0u64..1_000_000, 1u32..6)
            .prop_map(|(n, d)| node(ExprKind::Num(n as f64 / 10f64.powi(d as i32)))),
        "[a-zA-Z0-9 _'\"-]{0,6}"
            .prop_filter("one quote kind", |s| !(s.contains('\'') && s.contains('"')))
            .prop_map(|s| node(ExprKind::Str(s))),
        any::<bool>().prop_map(|b| node(ExprKind::Bool(b))),
        Just(node(ExprKind::Null)),
        ident().prop_map(|n| node(ExprKind::Name(n))),
        (ident(), "[a-zA-Z0-9_]{1,6}")
            .prop_map(|(kind, name)| node(ExprKind::ValueSet { kind, name })),
        (
            0u32..1000,
            prop_oneof![
                Just(WindowUnit::Days),
                Just(WindowUnit::Months),
                Just(WindowUnit::Years)
            ]
        )
            .prop_map(|(n, u)| node(ExprKind::Window(n, u))),
    ]
}

fn binop() -> impl Strategy<Value = BinOp> {
    prop_oneof![
        Just(BinOp::Or),
        Just(BinOp::And),
        Just(BinOp::Cmp(CmpOp::Eq)),
        Just(BinOp::Cmp(CmpOp::Ne)),
        Just(BinOp::Cmp(CmpOp::Lt)),
        Just(BinOp::Cmp(CmpOp::Le)),
        Just(BinOp::Cmp(CmpOp::Gt)),
        Just(BinOp::Cmp(CmpOp::Ge)),
        Just(BinOp::Arith(ArithOp::Add)),
        Just(BinOp::Arith(ArithOp::Sub)),
        Just(BinOp::Arith(ArithOp::Mul)),
        Just(BinOp::Arith(ArithOp::Div)),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(6, 64, 4, |inner| {
        let b = || inner.clone().prop_map(Box::new);
        prop_oneof![
            (ident(), prop::collection::vec(inner.clone(), 0..4)).prop_map(|(name, args)| node(
                ExprKind::Call {
                    name,
                    name_span: Span::default(),
                    args
                }
            )),
            b().prop_map(|e| node(ExprKind::Not(e))),
            b().prop_map(|e| node(ExprKind::Neg(e))),
            (binop(), b(), b()).prop_map(|(op, l, r)| node(ExprKind::Binary(op, l, r))),
            (b(), b(), b()).prop_map(|(x, lo, hi)| node(ExprKind::Between(x, lo, hi))),
            (b(), prop::collection::vec(inner.clone(), 1..4))
                .prop_map(|(x, items)| node(ExprKind::In(x, items))),
            (b(), any::<bool>())
                .prop_map(|(e, negated)| node(ExprKind::IsNull { expr: e, negated })),
        ]
    })
}

proptest! {
    #[test]
    fn pretty_printed_trees_parse_back(e in expr()) {
        let text = e.to_string();
        let (tokens, errors) = lexer::lex(&text);
        prop_assert!(errors.is_empty(), "{text}: {errors:?}");
        let parsed = parser::parse(&text, &tokens);
        prop_assert!(parsed.is_ok(), "{text}: {parsed:?}");
        prop_assert_eq!(parsed.unwrap().shape(), e.shape(), "{}", text);
    }
}

proptest! {
    /// Any expression text, and any file text, gives diagnostics, never a panic;
    /// every diagnostic span lies inside its file.
    #[test]
    fn compiling_arbitrary_input_never_panics(
        expr in "[a-z_A-Z0-9 .,()'\"=<>!+*/-]{0,40}",
        toml in "[a-z\\[\\]=\"'. \n0-9]{0,60}",
    ) {
        let criterion = format!(
            "[dx.a]\nX = [\"A\"]\n[[criterion]]\nid = \"A\"\ntitle = \"t\"\npopulation = '{}'\ngap = \"true\"\npriority = 1\n",
            expr.replace('\'', "")
        );
        let files = [
            caregap::lang::SourceFile { name: "a.toml".into(), text: criterion },
            caregap::lang::SourceFile { name: "b.toml".into(), text: toml },
        ];
        let (_, diags) = caregap::lang::compile_library(&files);
        for d in &diags {
            let f = files.iter().find(|f| f.name == d.file).unwrap();
            prop_assert!(d.span.start <= d.span.end && d.span.end <= f.text.len(), "{d}");
            prop_assert!(d.line >= 1 && d.column >= 1);
        }
        let _ = caregap::lang::render(&diags, &files, false);
    }
}
