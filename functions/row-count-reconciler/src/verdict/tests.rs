//! Segment counts from a `group_by` query, compared segment by segment.

use super::*;
use crate::measure::segment_counts;

#[test]
fn segments_are_compared_one_by_one() {
    let rows: Vec<Vec<Option<String>>> = vec![
        vec![Some("eu".into()), Some("web".into()), Some("500".into())],
        vec![None, Some("web".into()), Some("7".into())],
        vec![Some("us".into()), Some("app".into()), Some("300".into())],
    ];
    let source = segment_counts(&rows).unwrap();
    assert_eq!(source.get("(null) / web"), Some(&7));
    assert_eq!(source.values().sum::<u64>(), 807);
    assert_eq!(
        segment_counts(&[vec![Some("eu".into()), Some("x".into())]]),
        None
    );
    let target: BTreeMap<String, u64> =
        [("eu / web".to_string(), 500), ("us / app".to_string(), 200)].into();
    let tolerance = checks::Tolerance {
        rows: 0,
        percent: Some(1.0),
        direction: checks::Direction::Equal,
        allowed_side_percent: None,
    };
    let compared = compare_segments(&source, &target, &tolerance);
    let differing: Vec<(&str, u64, u64)> = compared
        .iter()
        .filter(|c| !c.comparison.within)
        .map(|c| (c.segment.as_str(), c.source, c.target))
        .collect();
    // A segment only one side has counts 0 on the other.
    assert_eq!(differing, [("(null) / web", 7, 0), ("us / app", 300, 200)]);
}
