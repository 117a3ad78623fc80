//! The compiled library: what the planner receives, checked item by item.

use caregap::data::EventKind;
use caregap::lang::ir::{
    AggFunc, Aggregate, ArithOp, CmpOp, ExprKind, Library, Literal, Pattern, Type, Window,
};
use caregap::lang::{self, Diagnostic, SourceFile};

fn file(name: &str, text: &str) -> SourceFile {
    SourceFile {
        name: name.into(),
        text: text.into(),
    }
}

fn compile(files: &[SourceFile]) -> (Option<Library>, Vec<Diagnostic>) {
    lang::compile_library(files)
}

fn ok(text: &str) -> Library {
    let files = [file("lib.toml", text)];
    let (lib, diags) = compile(&files);
    let errors: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
    lib.unwrap_or_else(|| panic!("refused: {errors:#?}"))
}

const PRELUDE: &str = r#"
[dx.diabetes]
title = "Diabetes"
ICD10 = ["e10..E14", "o24.4"]
icpc2 = ["T90"]
ICPC2 = ["T89"]

[lab.sbp]
LOINC = ["=8480-6"]
unit = " mmHg "

[med.statin]
ATC = ["C10AA"]
"#;

/// The type of a definition's expression, checked alone.
fn def_type(expr: &str) -> Result<Type, Vec<&'static str>> {
    let text = format!("{PRELUDE}\n[define]\nx = {expr:?}\n");
    let files = [file("lib.toml", &text)];
    let (lib, diags) = compile(&files);
    match lib {
        Some(lib) => Ok(lib.definitions[0].expr.ty),
        None => Err(diags.iter().map(|d| d.code).collect()),
    }
}

#[test]
fn value_sets_are_normalised() {
    let lib = ok(PRELUDE);
    let dm = &lib.value_sets[0];
    assert_eq!(dm.name, "dx.diabetes");
    assert_eq!(dm.kind, EventKind::Diagnosis);
    assert_eq!(dm.title.as_deref(), Some("Diabetes"));
    assert_eq!(
        dm.systems,
        vec![
            (
                "ICD10".to_string(),
                vec![
                    Pattern::Range("E10".into(), "E14".into()),
                    Pattern::Prefix("O244".into())
                ]
            ),
            // `icpc2` and `ICPC2` are one system; keys are read in source order.
            (
                "ICPC2".to_string(),
                vec![Pattern::Prefix("T90".into()), Pattern::Prefix("T89".into())]
            ),
        ]
    );
    assert_eq!(lib.value_sets[1].unit.as_deref(), Some("mmHg"));
    assert_eq!(
        lib.value_sets[1].systems[0].1,
        vec![Pattern::Exact("84806".into())]
    );
    assert_eq!(lib.value_sets[2].kind, EventKind::Medication);
}

#[test]
fn typing_rules() {
    let cases: &[(&str, Result<Type, Vec<&str>>)] = &[
        ("null", Ok(Type::Null)),
        ("null == null", Ok(Type::Bool)),
        ("null + 1", Ok(Type::Num)),
        ("-null", Ok(Type::Num)),
        ("if(true, null, null)", Ok(Type::Null)),
        ("if(true, null, 'a')", Ok(Type::Str)),
        ("coalesce(null, 1)", Ok(Type::Num)),
        ("coalesce(null)", Ok(Type::Null)),
        ("least(null)", Ok(Type::Num)),
        ("sex", Ok(Type::Str)),
        ("clinic in ('A', null, 'B')", Ok(Type::Bool)),
        ("null in (1, 2)", Ok(Type::Bool)),
        ("age between 1 and null", Ok(Type::Bool)),
        ("has(dx.diabetes) is null", Ok(Type::Bool)),
        ("true == false", Ok(Type::Bool)),
        ("round(-2.5) + abs(1) / 0", Ok(Type::Num)),
        ("has(dx.diabetes, 0d)", Ok(Type::Bool)),
        (
            "active(med.statin, 30d) and active(med.statin)",
            Ok(Type::Bool),
        ),
        (
            "days_since(lab.sbp) + days_since_first(med.statin)",
            Ok(Type::Num),
        ),
        ("count(med.statin, 2y) + mean(lab.sbp)", Ok(Type::Num)),
        ("'a' < 'b'", Err(vec!["E0211", "E0211"])),
        ("true + 1", Err(vec!["E0211"])),
        ("1 and true", Err(vec!["E0211"])),
        ("if(1, 2, 3)", Err(vec!["E0211"])),
        ("if(true, 2, 'x')", Err(vec!["E0212"])),
        ("1 == '1'", Err(vec!["E0212"])),
        ("null == 1 or 'a' == true", Err(vec!["E0212"])),
        ("coalesce(1, 'a', true)", Err(vec!["E0212", "E0212"])),
        ("least(1, true)", Err(vec!["E0211"])),
        ("max(med.statin)", Err(vec!["E0204"])),
        ("active(dx.diabetes)", Err(vec!["E0204"])),
        ("active(med.statin, 2y)", Err(vec!["E0207"])),
        ("days_since_first(dx.diabetes, 1d)", Err(vec!["E0206"])),
        ("1d", Err(vec!["E0206"])),
        ("abs(1d)", Err(vec!["E0206"])),
        ("coalesce()", Err(vec!["E0205"])),
    ];
    for (expr, want) in cases {
        assert_eq!(&def_type(expr), want, "{expr}");
    }
}

#[test]
fn expressions_become_the_ir() {
    let lib = ok(&format!(
        "{PRELUDE}\n[define]\nx = \"last(lab.sbp, 1y) >= 140 - 2 * 3\"\n"
    ));
    let e = &lib.definitions[0].expr;
    let ExprKind::Cmp(CmpOp::Ge, lhs, rhs) = &e.kind else {
        panic!("{e:?}")
    };
    assert_eq!(
        lhs.kind,
        ExprKind::Agg(Aggregate {
            func: AggFunc::Last,
            value_set: 1,
            window: Some(Window::Months(12)),
        })
    );
    let ExprKind::Arith(ArithOp::Sub, a, b) = &rhs.kind else {
        panic!("{rhs:?}")
    };
    assert_eq!(a.kind, ExprKind::Lit(Literal::Num(140.0)));
    assert!(matches!(b.kind, ExprKind::Arith(ArithOp::Mul, _, _)));
    // Spans are offsets into the expression string.
    assert_eq!((lhs.span.start, lhs.span.end), (0, 17));
    let origin = &lib.definitions[0].origin;
    assert_eq!((origin.file.as_str(), origin.column), ("lib.toml", 6));
    // Active's grace is a days window; days_since has none.
    let lib = ok(&format!(
        "{PRELUDE}\n[define]\ny = \"active(med.statin, 14d) or days_since(dx.diabetes) > 3\"\n"
    ));
    let mut aggs = Vec::new();
    lib.definitions[0].expr.visit(&mut |x| {
        if let ExprKind::Agg(a) = x.kind {
            aggs.push(a);
        }
    });
    assert_eq!(
        aggs,
        vec![
            Aggregate {
                func: AggFunc::Active,
                value_set: 2,
                window: Some(Window::Days(14))
            },
            Aggregate {
                func: AggFunc::DaysSince,
                value_set: 0,
                window: None
            }
        ]
    );
}

#[test]
fn definitions_come_in_dependency_order() {
    let lib = ok(&format!(
        "{PRELUDE}\n[define]\na = \"b + c\"\nb = \"c * 2\"\nc = \"count(dx.diabetes)\"\nunused = \"sex == 'F'\"\n\n\
         [[criterion]]\nid = \"X\"\ntitle = \"x\"\npopulation = \"a > 1\"\ngap = \"b > 1\"\npriority = 1\n"
    ));
    let names: Vec<&str> = lib.definitions.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["c", "b", "a", "unused"]);
    for (i, d) in lib.definitions.iter().enumerate() {
        d.expr.visit(&mut |x| {
            if let ExprKind::Def(j) = x.kind {
                assert!(j < i, "{} refers to a later definition", d.name);
            }
        });
    }
    let c = &lib.criteria[0];
    let ExprKind::Cmp(_, a, _) = &c.population.kind else {
        panic!()
    };
    assert_eq!(a.kind, ExprKind::Def(2));
    assert_eq!(a.ty, Type::Num);
}

#[test]
fn criteria_and_features_are_complete() {
    let lib = ok(&format!(
        "{PRELUDE}\n[[criterion]]\nid = \"DM.X\"\ntitle = \"t\"\ndomain = \"diabetes\"\nsource = \"s\"\n\
         population = \"has(dx.diabetes)\"\ngap = \"null\"\nexclude = \"age > 90\"\npriority = 10\naction = \"call\"\n\n\
         [[feature]]\nname = \"n\"\nexpr = \"count(dx.diabetes, 12mo)\"\n\n\
         [[feature]]\nname = \"b\"\nexpr = \"has(dx.diabetes)\"\n\n\
         [[feature]]\nname = \"missing\"\nexpr = \"null\"\n"
    ));
    let c = &lib.criteria[0];
    assert_eq!(c.id, "DM.X");
    assert_eq!(c.priority, 10);
    assert_eq!(c.domain.as_deref(), Some("diabetes"));
    assert_eq!(c.action.as_deref(), Some("call"));
    assert_eq!(c.gap.ty, Type::Null);
    assert!(c.exclude.is_some());
    let types: Vec<Type> = lib.features.iter().map(|f| f.expr.ty).collect();
    assert_eq!(types, [Type::Num, Type::Bool, Type::Null]);
    assert_eq!(lib.value_set_uses(), vec![3, 0, 0]);
}

#[test]
fn all_errors_are_reported_at_once_across_files() {
    let a = file(
        "a.toml",
        r#"
[dx.x]
ICD10 = ["I15..I10"]

[define]
loop1 = "loop2"
loop2 = "loop1"
bad_type = "1 + 'a'"

[[criterion]]
id = "A"
title = "a"
population = "has(dx.nope)"
gap = "1 < 2 < 3"
priority = 0
"#,
    );
    let b = file(
        "b.toml",
        r#"
[[criterion]]
id = "A"
title = "b"
population = "foo"
gap = "count(lab.none)"
priority = 1
extra = 1

[[feature]]
name = "f"
expr = "'text'"

[nonsense]
"#,
    );
    // The order of the inputs does not matter: files are taken by name.
    for files in [vec![a.clone(), b.clone()], vec![b, a]] {
        let (lib, diags) = compile(&files);
        assert!(lib.is_none());
        let codes: Vec<(&str, &str)> = diags.iter().map(|d| (d.file.as_str(), d.code)).collect();
        assert_eq!(
            codes,
            [
                ("a.toml", "E0303"),
                ("a.toml", "E0214"),
                ("a.toml", "E0211"),
                ("a.toml", "E0203"),
                ("a.toml", "E0106"),
                ("a.toml", "E0006"),
                ("b.toml", "E0007"),
                ("b.toml", "E0201"),
                ("b.toml", "E0203"),
                ("b.toml", "E0005"),
                ("b.toml", "E0213"),
                ("b.toml", "E0002"),
            ]
        );
        // Every diagnostic says where: file, item, line and column.
        let unknown = diags.iter().find(|d| d.code == "E0201").unwrap();
        assert_eq!(unknown.item.as_deref(), Some("criterion A (population)"));
        assert_eq!((unknown.line, unknown.column), (5, 15));
        assert_eq!(
            &files.iter().find(|f| f.name == "b.toml").unwrap().text[unknown.span.clone()],
            "foo"
        );
    }
}

#[test]
fn the_hash_covers_names_and_contents() {
    let a = [file("a.toml", PRELUDE)];
    let lib = lang::compile_library(&a).0.unwrap();
    assert_eq!(lib.hash.len(), 64);
    assert_eq!(lib.hash, lang::library_hash(&a));
    let renamed = [file("b.toml", PRELUDE)];
    assert_ne!(lib.hash, lang::library_hash(&renamed));
    let edited = [file("a.toml", &format!("{PRELUDE}\n"))];
    assert_ne!(lib.hash, lang::library_hash(&edited));
    let two = [file("a.toml", "[dx.a]\nX = [\"1\"]\n"), file("b.toml", "")];
    let swapped = [two[1].clone(), two[0].clone()];
    assert_eq!(lang::library_hash(&two), lang::library_hash(&swapped));
}

#[test]
fn errors_in_literal_and_multiline_strings_point_into_the_file() {
    let text = format!(
        "{PRELUDE}\n[define]\na = 'has(dx.diabetes) and nope'\nb = '''\n  age > 1\n  and nope2'''\n"
    );
    let files = [file("lib.toml", &text)];
    let (_, diags) = compile(&files);
    let spots: Vec<(&str, u32, u32)> = diags
        .iter()
        .map(|d| (&text[d.span.clone()], d.line, d.column))
        .collect();
    let base = PRELUDE.lines().count() as u32 + 1;
    assert_eq!(spots, [("nope", base + 2, 27), ("nope2", base + 5, 7)]);
}

#[test]
fn crlf_files_and_multiline_basic_strings_map_exactly() {
    let text = "[dx.a]\r\nICD10 = [\"A\"]\r\n\r\n[define]\r\nx = \"\"\"\r\nhas(dx.a)\r\n  and nope\"\"\"\r\ny = '''\r\nhas(dx.a) and\r\n  nope2'''\r\n";
    let files = [file("crlf.toml", text)];
    let (_, diags) = compile(&files);
    let spots: Vec<(&str, u32, u32)> = diags
        .iter()
        .map(|d| (&text[d.span.clone()], d.line, d.column))
        .collect();
    assert_eq!(spots, [("nope", 7, 7), ("nope2", 10, 3)]);
}

#[test]
fn a_toml_slip_shows_the_first_error_of_each_line_and_at_most_twenty() {
    // An unclosed array: the parser recovers at nearly every token after it.
    let mut text = String::from("[dx.a]\nICD10 = [\"I10\"\n");
    for i in 0..400 {
        text.push_str(&format!("[dx.b{i}]\nICD10 = [\"E{i}\", \"F{i}\"]\n"));
    }
    let (lib, diags) = compile(&[file("lib.toml", &text)]);
    assert!(lib.is_none());
    let toml: Vec<&Diagnostic> = diags.iter().filter(|d| d.code == "E0001").collect();
    assert_eq!(toml.len(), lang::library::MAX_TOML_ERRORS);
    let mut lines: Vec<u32> = toml.iter().map(|d| d.line).collect();
    lines.dedup();
    assert_eq!(lines.len(), toml.len(), "one error a line");
    assert!(
        toml[0].line <= 3,
        "the first slip is shown first: {}",
        toml[0]
    );
    let notes = &toml.last().unwrap().notes;
    assert!(
        notes
            .iter()
            .any(|n| n.contains("more TOML syntax errors in this file are not shown")),
        "{notes:?}"
    );
}
