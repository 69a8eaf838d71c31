//! Tests of the SVG charts: well-formed XML (checked by a small parser below), points
//! inside the plot area, ticks of log and tail axes where they belong, tick labels.

use super::*;

/// Checks that `doc` is well-formed XML as far as these charts go: tags nest and close,
/// attribute values are quoted, `&` starts a known entity, `<` never appears in text, and
/// there is one root element with nothing but white space around it. Returns the number
/// of elements.
pub(crate) fn check_xml(doc: &str) -> Result<usize, String> {
    fn entities(text: &str) -> Result<(), String> {
        if text.contains('<') {
            return Err(format!("'<' in text {text:?}"));
        }
        let mut rest = text;
        while let Some(at) = rest.find('&') {
            rest = &rest[at + 1..];
            let end = rest
                .find(';')
                .ok_or(format!("unterminated entity in {text:?}"))?;
            let name = &rest[..end];
            let numeric = name
                .strip_prefix('#')
                .is_some_and(|n| n.parse::<u32>().is_ok());
            if !numeric && !["amp", "lt", "gt", "quot", "apos"].contains(&name) {
                return Err(format!("unknown entity &{name};"));
            }
        }
        Ok(())
    }
    let mut stack: Vec<&str> = Vec::new();
    let (mut roots, mut elements) = (0, 0);
    let mut rest = doc;
    while let Some(open) = rest.find('<') {
        let text = &rest[..open];
        if stack.is_empty() && !text.trim().is_empty() {
            return Err(format!("text outside the root: {text:?}"));
        }
        entities(text)?;
        rest = &rest[open + 1..];
        if let Some(closing) = rest.strip_prefix('/') {
            let end = closing.find('>').ok_or("unterminated end tag")?;
            let name = &closing[..end];
            if stack.pop() != Some(name) {
                return Err(format!("</{name}> closes nothing open"));
            }
            rest = &closing[end + 1..];
            continue;
        }
        let name_end = rest
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .ok_or("unterminated tag")?;
        let name = &rest[..name_end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(format!("bad element name {name:?}"));
        }
        rest = &rest[name_end..];
        roots += usize::from(stack.is_empty());
        loop {
            rest = rest.trim_start();
            if let Some(after) = rest.strip_prefix("/>") {
                rest = after;
                break;
            }
            if let Some(after) = rest.strip_prefix('>') {
                rest = after;
                stack.push(name);
                break;
            }
            let eq = rest
                .find('=')
                .ok_or(format!("attribute without value in <{name}>"))?;
            let attr = &rest[..eq];
            if attr.is_empty() || !attr.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(format!("bad attribute name {attr:?} in <{name}>"));
            }
            let value = rest[eq + 1..]
                .strip_prefix('"')
                .ok_or(format!("unquoted {attr}"))?;
            let end = value.find('"').ok_or(format!("unterminated {attr}"))?;
            entities(&value[..end])?;
            rest = &value[end + 1..];
        }
        elements += 1;
    }
    if !stack.is_empty() {
        return Err(format!("unclosed {stack:?}"));
    }
    if !rest.trim().is_empty() {
        return Err(format!("text after the root: {rest:?}"));
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    Ok(elements)
}

/// Every value of attribute `attr` in `doc`.
fn attrs<'a>(doc: &'a str, attr: &str) -> Vec<&'a str> {
    let key = format!(" {attr}=\"");
    doc.match_indices(&key)
        .map(|(at, _)| {
            let value = &doc[at + key.len()..];
            &value[..value.find('"').unwrap()]
        })
        .collect()
}

fn curve(scale: f64) -> Vec<(f64, f64)> {
    crate::stats::CURVE_PERCENTILES
        .iter()
        .map(|&p| (p, scale * (1.0 + (p - 50.0))))
        .collect()
}

fn latency_chart() -> Chart {
    Chart {
        title: "execute <1+1> & friends".into(),
        subtitle: "2 CPUs".into(),
        x: Axis {
            label: "percentile".into(),
            scale: Scale::Tail,
            unit: Unit::Percentile,
            range: Some((50.0, 99.9)),
            ticks: None,
        },
        y: Axis {
            label: "latency".into(),
            scale: Scale::Log,
            unit: Unit::Micros,
            range: None,
            ticks: None,
        },
        series: vec![
            Series {
                name: "floor \"zmq\"".into(),
                points: curve(20.0),
                dashed: true,
            },
            Series {
                name: "llmspell".into(),
                points: curve(900.0),
                dashed: false,
            },
        ],
    }
}

#[test]
fn the_checker_rejects_broken_xml() {
    assert_eq!(
        check_xml(r#"<svg a="1"><g/><text>x &amp; y</text></svg>"#),
        Ok(3)
    );
    for bad in [
        "<svg>",
        "<svg></g>",
        "<svg a=1/>",
        "<svg><text>a & b</text></svg>",
        "<svg/><svg/>",
        "x<svg/>",
        r#"<svg a="<"/>"#,
        "<svg><text>&nbsp;</text></svg>",
    ] {
        assert!(check_xml(bad).is_err(), "{bad}");
    }
}

#[test]
fn renders_well_formed_svg_with_points_inside_the_area() {
    let doc = latency_chart().render();
    let elements = check_xml(&doc).unwrap_or_else(|e| panic!("{e}\n{doc}"));
    assert!(elements > 20);
    assert!(doc.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(doc.contains("execute &lt;1+1&gt; &amp; friends"));
    assert!(doc.contains("floor &quot;zmq&quot;"));
    let (left, top, right, bottom) = AREA;
    let lines = attrs(&doc, "points");
    assert_eq!(lines.len(), 2);
    for line in lines {
        let pts: Vec<(f64, f64)> = line
            .split(' ')
            .map(|p| {
                let (x, y) = p.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect();
        // p50 ..= p99.9 of the curve: p99.925 and beyond, and p100, fall outside.
        let shown = crate::stats::CURVE_PERCENTILES
            .iter()
            .filter(|&&p| p <= 99.9)
            .count();
        assert_eq!(pts.len(), shown);
        for (x, y) in &pts {
            assert!(
                (left..=right).contains(x) && (top..=bottom).contains(y),
                "{x},{y}"
            );
        }
        assert_eq!(pts[0].0, left);
        assert_eq!(pts[pts.len() - 1].0, right);
        // Latency grows with the percentile: y goes up (smaller pixels).
        assert!(pts.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 >= w[1].1));
    }
    for x in attrs(&doc, "x").iter().chain(&attrs(&doc, "x1")) {
        let x: f64 = x.parse().unwrap();
        assert!((0.0..=WIDTH).contains(&x));
    }
    for y in attrs(&doc, "y").iter().chain(&attrs(&doc, "y2")) {
        let y: f64 = y.parse().unwrap();
        assert!((0.0..=HEIGHT).contains(&y));
    }
    assert!(doc.contains(">p99.9</text>") && doc.contains(">p50</text>"));
    assert!(!doc.contains(">p99.99</text>"));
}

#[test]
fn log_ticks_are_powers_of_ten_evenly_spaced() {
    let axis = |range| Axis {
        label: String::new(),
        scale: Scale::Log,
        unit: Unit::Micros,
        range,
        ticks: None,
    };
    // Over two decades: labelled powers of ten, 2..9 times them as minor lines; the range
    // padded a little, then snapped to 1-2-5 values.
    let r = axis(None).resolve(&[3.0, 1200.0, 0.0, -5.0]);
    assert_eq!((r.lo, r.hi), (2.0, 2000.0));
    assert_eq!(r.ticks, [10.0, 100.0, 1000.0]);
    assert_eq!(r.minor.len(), 8 + 8 + 8 + 1);
    assert!(r.minor.contains(&2.0) && r.minor.contains(&2000.0) && !r.minor.contains(&3000.0));
    let r = axis(Some((1.0, 10_000.0))).resolve(&[]);
    assert_eq!(r.ticks, [1.0, 10.0, 100.0, 1000.0, 10_000.0]);
    let map = Map::new(Scale::Log, &r, 400.0, 50.0);
    let px: Vec<f64> = r.ticks.iter().map(|&t| map.px(t).unwrap()).collect();
    assert_eq!((px[0], px[4]), (400.0, 50.0));
    for w in px.windows(2) {
        assert!((w[0] - w[1] - 87.5).abs() < 1e-9, "{px:?}");
    }
    assert!(map.px(0.5).is_none() && map.px(0.0).is_none() && map.px(20_000.0).is_none());
    // Two decades or less: 1-2-5 ticks, the range snapped to them.
    let r = axis(None).resolve(&[30.0, 150.0]);
    assert_eq!((r.lo, r.hi), (20.0, 200.0));
    assert_eq!(r.ticks, [20.0, 50.0, 100.0, 200.0]);
    // One value: widened around it.
    let r = axis(None).resolve(&[100.0]);
    assert_eq!((r.lo, r.hi), (50.0, 200.0));
    // No placeable value: a default range.
    assert_eq!(axis(None).resolve(&[0.0]).hi, 10.0);
    assert_eq!(
        axis(Some((1.0, 8.0))).resolve(&[3.0]).ticks,
        [1.0, 2.0, 5.0]
    );
}

#[test]
fn tail_ticks_give_each_nine_the_same_room() {
    let axis = Axis {
        label: String::new(),
        scale: Scale::Tail,
        unit: Unit::Percentile,
        range: Some((50.0, 99.9)),
        ticks: None,
    };
    let r = axis.resolve(&[]);
    assert_eq!(r.ticks, [50.0, 90.0, 99.0, 99.9]);
    let map = Map::new(Scale::Tail, &r, 0.0, 100.0);
    let at = |p| map.px(p).unwrap();
    assert_eq!((at(50.0), at(99.9)), (0.0, 100.0));
    assert!(((at(99.0) - at(90.0)) - (at(99.9) - at(99.0))).abs() < 1e-9);
    assert!(map.px(100.0).is_none() && map.px(99.99).is_none());
}

#[test]
fn explicit_ticks_on_a_log_axis() {
    let axis = Axis {
        label: String::new(),
        scale: Scale::Log,
        unit: Unit::Count,
        range: Some((1.0, 8.0)),
        ticks: Some(vec![1.0, 2.0, 4.0, 8.0, 16.0]),
    };
    let r = axis.resolve(&[1.0, 8.0]);
    assert_eq!(r.ticks, [1.0, 2.0, 4.0, 8.0]);
    let map = Map::new(Scale::Log, &r, 0.0, 300.0);
    let px: Vec<f64> = r.ticks.iter().map(|&t| map.px(t).unwrap()).collect();
    for (got, want) in px.iter().zip([0.0, 100.0, 200.0, 300.0]) {
        assert!((got - want).abs() < 1e-9, "{px:?}");
    }
}

#[test]
fn tick_labels() {
    assert_eq!(Unit::Micros.label(20.0), "20 µs");
    assert_eq!(Unit::Micros.label(2.5), "2.5 µs");
    assert_eq!(Unit::Micros.label(1000.0), "1 ms");
    assert_eq!(Unit::Micros.label(1500.0), "1.5 ms");
    assert_eq!(Unit::Micros.label(200_000.0), "200 ms");
    assert_eq!(Unit::Micros.label(2e6), "2 s");
    assert_eq!(Unit::Rate.label(500.0), "500");
    assert_eq!(Unit::Rate.label(20_000.0), "20k");
    assert_eq!(Unit::Rate.label(1.5e6), "1.5M");
    assert_eq!(Unit::Count.label(8.0), "8");
    assert_eq!(Unit::Percentile.label(99.9), "p99.9");
    assert_eq!(Unit::Percentile.label(50.0), "p50");
    assert_eq!(escape("a\u{1}<b>'"), "a &lt;b&gt;&apos;");
}

#[test]
fn an_empty_chart_says_so() {
    let mut chart = latency_chart();
    chart.series.clear();
    let doc = chart.render();
    check_xml(&doc).unwrap();
    assert!(doc.contains(">no data</text>"));
    // Points the axes cannot place are left out, not drawn at an edge.
    chart.series.push(Series {
        name: "zeros".into(),
        points: vec![(50.0, 0.0), (90.0, -1.0), (100.0, 5.0)],
        dashed: false,
    });
    let doc = chart.render();
    check_xml(&doc).unwrap();
    assert!(attrs(&doc, "points").is_empty() && attrs(&doc, "cx").is_empty());
    assert!(doc.contains(">no data</text>"));
}
