"""EventBridge event-pattern language: matching and PutRule validation.

Each group follows a page of the EventBridge User Guide ("Event patterns", "Content
filtering in Amazon EventBridge event patterns", "Comparison operators", "Arrays in
event patterns") and, for error texts and edge cases, aws/event-ruler.
"""

from __future__ import annotations

import doctest
import json

import pytest

from localcloud import patterns
from localcloud.matching import RuleMatcher
from localcloud.patterns import (
    EventPattern,
    InvalidEventPattern,
    compile_pattern,
    expand_dotted_keys,
)
from localcloud.state import Rule


def envelope(**detail: object) -> dict:
    """A full event envelope as the router holds it (already parsed JSON)."""
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "Order.Created",
        "source": "order-service",
        "account": "222222222222",
        "time": "2024-05-01T12:00:00Z",
        "region": "eu-west-1",
        "resources": ["arn:aws:events:eu-west-1:222222222222:event-bus/global-bus"],
        "detail": detail,
    }


def matches(pattern: dict, event: dict) -> bool:
    return compile_pattern(pattern).matches(event)


def leaf(matchers: list, value: object = patterns._MISSING) -> bool:
    """Match `{"detail": {"f": matchers}}` against an event whose detail.f is value."""
    detail = {} if value is patterns._MISSING else {"f": value}
    return matches({"detail": {"f": matchers}}, envelope(**detail))


def reason(pattern: object) -> str:
    with pytest.raises(InvalidEventPattern) as info:
        compile_pattern(pattern)  # type: ignore[arg-type]
    return info.value.reason


def test_module_doctests_pass() -> None:
    assert doctest.testmod(patterns).failed == 0


# --- structure: AND across fields, OR within an array, nesting ([patterns]) ----------


class TestStructure:
    def test_all_fields_must_match(self) -> None:
        pattern = {"source": ["order-service"], "detail-type": ["Order.Created"]}
        assert matches(pattern, envelope())
        assert not matches({**pattern, "detail-type": ["Order.Updated"]}, envelope())

    def test_any_value_of_a_field_array_may_match(self) -> None:
        assert matches({"source": ["delivery-service", "order-service"]}, envelope())

    def test_envelope_fields_match_like_detail_fields(self) -> None:
        pattern = {"account": ["222222222222"], "region": ["eu-west-1"], "version": ["0"],
                   "time": [{"prefix": "2024-05-01"}],
                   "id": ["6a7e8feb-b491-4cf7-a9f1-bf3703467718"]}
        assert matches(pattern, envelope())
        assert not matches({**pattern, "account": ["111111111111"]}, envelope())

    def test_nested_objects_match_nested_fields(self) -> None:
        pattern = {"detail": {"order": {"status": ["CREATED"]}}}
        assert matches(pattern, envelope(order={"status": "CREATED", "id": "o-1"}))
        assert not matches(pattern, envelope(order={"status": "DELIVERED"}))

    def test_a_named_field_missing_from_the_event_does_not_match(self) -> None:
        assert not matches({"detail": {"status": ["CREATED"]}}, envelope())
        assert not matches({"detail": {"order": {"status": ["CREATED"]}}}, envelope())

    def test_fields_the_pattern_does_not_name_are_ignored(self) -> None:
        assert matches({"source": ["order-service"]}, envelope(anything="at all"))

    def test_nested_pattern_against_a_scalar_value_does_not_match(self) -> None:
        assert not matches({"detail": {"order": {"status": ["CREATED"]}}},
                           envelope(order="CREATED"))

    def test_strings_are_case_sensitive(self) -> None:
        assert not matches({"source": ["Order-Service"]}, envelope())

    def test_accepts_the_pattern_as_json_text(self) -> None:
        text = json.dumps({"source": ["order-service"], "detail": {"n": [1]}})
        assert compile_pattern(text).matches(envelope(n=1))

    def test_compiled_pattern_keeps_the_parsed_pattern(self) -> None:
        compiled = compile_pattern('{"source": ["a"]}')
        assert isinstance(compiled, EventPattern)
        assert compiled.pattern == {"source": ["a"]}
        assert repr(compiled) == 'EventPattern({"source":["a"]})'

    def test_a_non_mapping_event_matches_nothing_but_absence(self) -> None:
        assert not compile_pattern({"source": ["a"]}).matches(None)  # type: ignore[arg-type]
        assert compile_pattern({"source": [{"exists": False}]}).matches([])  # type: ignore[arg-type]


# --- exact values ([patterns] "Matching event values", null values and empty strings) --


class TestExactValues:
    def test_string(self) -> None:
        assert leaf(["CREATED"], "CREATED")
        assert not leaf(["CREATED"], "CREATED ")

    def test_number_equality_is_numeric(self) -> None:
        assert leaf([5], 5.0)
        assert leaf([5.0], 5)
        assert leaf([3.018e2], 301.8)
        assert not leaf([5], 5.5)

    def test_numbers_are_compared_to_six_decimal_places(self) -> None:
        # [ruler] ComparableNumber: 6 digits right of the decimal point.
        assert leaf([0.3], 0.1 + 0.2)
        assert leaf([1.0000001], 1)

    def test_numbers_beyond_five_billion_match_the_same_literal(self) -> None:
        # Account ids are numbers sometimes; they cannot be compared numerically.
        assert leaf([123456789012], 123456789012)
        assert not leaf([123456789012], 123456789013)

    def test_number_and_string_never_match_each_other(self) -> None:
        assert not leaf([5], "5")
        assert not leaf(["5"], 5)

    def test_null_matches_only_null(self) -> None:
        assert leaf([None], None)
        assert not leaf([None], "null")
        assert not leaf([None])  # missing is not null
        assert not leaf(["x"], None)

    def test_booleans_match_only_booleans(self) -> None:
        assert leaf([True], True)
        assert leaf([False], False)
        assert not leaf([True], 1)
        assert not leaf([1], True)
        assert not leaf([False], 0)
        assert not leaf([0], False)
        assert not leaf([True], "true")

    def test_empty_string_matches_empty_string_only(self) -> None:
        assert leaf([""], "")
        assert not leaf([""], "x")
        assert not leaf([""], None)
        assert not leaf([""])

    def test_an_ip_literal_matches_the_same_address_written_differently(self) -> None:
        assert leaf(["2001:db8::1"], "2001:0db8:0000:0000:0000:0000:0000:0001")
        assert leaf(["10.0.0.1"], "10.0.0.1")
        assert not leaf(["10.0.0.1"], "10.0.0.2")


# --- arrays in events ([arrays]) --------------------------------------------------------


class TestArrays:
    def test_event_array_matches_if_intersection_is_non_empty(self) -> None:
        pattern = {"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
                                 "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f"]}
        event = envelope()
        event["resources"] = ["arn:aws:autoscaling:us-east-1:123456789012:asg",
                              "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"]
        assert matches(pattern, event)
        event["resources"] = ["arn:aws:autoscaling:us-east-1:123456789012:asg"]
        assert not matches(pattern, event)

    def test_nested_arrays_are_flattened(self) -> None:
        assert leaf(["b"], [["a"], ["b", ["c"]]])

    def test_operators_apply_to_each_element(self) -> None:
        assert leaf([{"numeric": [">", 10]}], [1, 2, 11])
        assert leaf([{"prefix": "eu-"}], ["us-east-1", "eu-west-1"])
        assert not leaf([{"prefix": "ap-"}], ["us-east-1", "eu-west-1"])

    def test_anything_but_matches_if_any_element_is_not_excluded(self) -> None:
        assert leaf([{"anything-but": ["a"]}], ["a", "b"])
        assert not leaf([{"anything-but": ["a", "b"]}], ["a", "b"])

    def test_array_of_objects_matches_when_one_element_matches(self) -> None:
        pattern = {"detail": {"items": {"sku": ["B-2"]}}}
        assert matches(pattern, envelope(items=[{"sku": "A-1"}, {"sku": "B-2"}]))
        assert not matches(pattern, envelope(items=[{"sku": "A-1"}, {"sku": "C-3"}]))

    def test_array_of_objects_fields_must_come_from_the_same_element(self) -> None:
        # [ruler] README "JSON Array Matching": Anna Smith and Peter Jones are employees,
        # but no employee is Anna Jones.
        event = envelope(employees=[{"first": "Anna", "last": "Smith"},
                                    {"first": "Peter", "last": "Jones"}])
        assert matches({"detail": {"employees": {"first": ["Anna"], "last": ["Smith"]}}},
                       event)
        assert not matches({"detail": {"employees": {"first": ["Anna"], "last": ["Jones"]}}},
                           event)

    def test_arrays_of_arrays_of_objects(self) -> None:
        event = envelope(groups=[[{"n": 1}], [{"n": 2}, {"n": 3}]])
        assert matches({"detail": {"groups": {"n": [3]}}}, event)
        assert not matches({"detail": {"groups": {"n": [4]}}}, event)

    def test_leaf_pattern_ignores_object_elements(self) -> None:
        assert leaf([1], [{"x": 1}, 1])
        assert not leaf([{"exists": True}], [{"x": 1}])
        assert leaf([{"exists": False}], [{"x": 1}])

    def test_tuples_are_treated_as_arrays(self) -> None:
        assert leaf(["b"], ("a", "b"))


# --- prefix / suffix / equals-ignore-case / wildcard ([filtering], [operators]) ----------


class TestStringOperators:
    def test_prefix(self) -> None:
        assert leaf([{"prefix": "2017-10-02"}], "2017-10-02T18:43:48Z")
        assert not leaf([{"prefix": "2017-10-02"}], "2017-10-03T18:43:48Z")

    def test_prefix_only_matches_strings(self) -> None:
        assert not leaf([{"prefix": "1"}], 10)
        assert not leaf([{"prefix": "n"}], None)

    def test_empty_prefix_matches_every_string(self) -> None:
        assert leaf([{"prefix": ""}], "")
        assert leaf([{"prefix": ""}], "anything")
        assert not leaf([{"prefix": ""}])

    def test_prefix_ignoring_case(self) -> None:
        matcher = [{"prefix": {"equals-ignore-case": "EventB"}}]
        assert leaf(matcher, "eventbridge")
        assert leaf(matcher, "EVENTBRIDGE")
        assert not leaf(matcher, "sqs")

    def test_suffix(self) -> None:
        assert leaf([{"suffix": ".png"}], "image.png")
        assert not leaf([{"suffix": ".png"}], "image.PNG")
        assert not leaf([{"suffix": "5"}], 5)

    def test_suffix_ignoring_case(self) -> None:
        assert leaf([{"suffix": {"equals-ignore-case": ".png"}}], "image.PNG")
        assert not leaf([{"suffix": {"equals-ignore-case": ".png"}}], "image.jpg")

    def test_equals_ignore_case(self) -> None:
        assert leaf([{"equals-ignore-case": "alice"}], "ALICE")
        assert leaf([{"equals-ignore-case": "alice"}], "Alice")
        assert not leaf([{"equals-ignore-case": "alice"}], "alicia")
        assert not leaf([{"equals-ignore-case": "1"}], 1)

    def test_wildcard_star_matches_any_run_including_empty(self) -> None:
        matcher = [{"wildcard": "dir/*.png"}]
        assert leaf(matcher, "dir/a.png")
        assert leaf(matcher, "dir/.png")
        assert leaf(matcher, "dir/sub/a.png")
        assert not leaf(matcher, "dir/a.jpg")
        assert not leaf(matcher, "other/dir/a.png")

    def test_wildcard_with_several_stars(self) -> None:
        matcher = [{"wildcard": "*/lib/*"}]
        assert leaf(matcher, "/usr/lib/x")
        assert not leaf(matcher, "/usr/bin/x")

    def test_wildcard_escapes(self) -> None:
        assert leaf([{"wildcard": "a\\*b"}], "a*b")
        assert not leaf([{"wildcard": "a\\*b"}], "axb")
        assert leaf([{"wildcard": "a\\\\b*"}], "a\\bcd")

    def test_wildcard_is_literal_for_regex_characters(self) -> None:
        assert leaf([{"wildcard": "a.c(*)"}], "a.c(x)")
        assert not leaf([{"wildcard": "a.c(*)"}], "abc(x)")

    def test_wildcard_spans_newlines_and_only_matches_strings(self) -> None:
        assert leaf([{"wildcard": "a*b"}], "a\nb")
        assert not leaf([{"wildcard": "1*"}], 12)


# --- anything-but ([filtering] "Anything-but matching") ---------------------------------


class TestAnythingBut:
    def test_single_string(self) -> None:
        assert leaf([{"anything-but": "initializing"}], "running")
        assert not leaf([{"anything-but": "initializing"}], "initializing")

    def test_single_number(self) -> None:
        assert leaf([{"anything-but": 123}], 124)
        assert not leaf([{"anything-but": 123}], 123.0)

    def test_list_of_strings(self) -> None:
        matcher = [{"anything-but": ["stopped", "overloaded"]}]
        assert leaf(matcher, "running")
        assert not leaf(matcher, "stopped")
        assert not leaf(matcher, "overloaded")

    def test_list_of_numbers(self) -> None:
        matcher = [{"anything-but": [100, 200, 300]}]
        assert leaf(matcher, 101)
        assert not leaf(matcher, 200)

    def test_a_missing_field_does_not_match(self) -> None:
        assert not leaf([{"anything-but": "x"}])
        assert not leaf([{"anything-but": {"prefix": "x"}}])

    def test_values_of_another_type_match(self) -> None:
        # [ruler] an anything-but only fails on an excluded value of its own type.
        assert leaf([{"anything-but": "5"}], 5)
        assert leaf([{"anything-but": 5}], "5")
        assert leaf([{"anything-but": "x"}], None)
        assert leaf([{"anything-but": "x"}], True)
        assert leaf([{"anything-but": {"prefix": "x"}}], 1)

    def test_prefix(self) -> None:
        matcher = [{"anything-but": {"prefix": "us-"}}]
        assert leaf(matcher, "eu-west-1")
        assert not leaf(matcher, "us-east-1")

    def test_prefix_list(self) -> None:
        matcher = [{"anything-but": {"prefix": ["us-", "ap-"]}}]
        assert leaf(matcher, "eu-west-1")
        assert not leaf(matcher, "ap-south-1")

    def test_suffix(self) -> None:
        matcher = [{"anything-but": {"suffix": ".png"}}]
        assert leaf(matcher, "a.jpg")
        assert not leaf(matcher, "a.png")

    def test_equals_ignore_case_single_and_list(self) -> None:
        assert not leaf([{"anything-but": {"equals-ignore-case": "initializing"}}],
                        "INITIALIZING")
        assert leaf([{"anything-but": {"equals-ignore-case": "initializing"}}], "running")
        matcher = [{"anything-but": {"equals-ignore-case": ["Stopped", "OVERLOADED"]}}]
        assert not leaf(matcher, "stopped")
        assert not leaf(matcher, "overloaded")
        assert leaf(matcher, "running")

    def test_wildcard(self) -> None:
        matcher = [{"anything-but": {"wildcard": "*/lib/*"}}]
        assert leaf(matcher, "/usr/bin/x")
        assert not leaf(matcher, "/usr/lib/x")
        both = [{"anything-but": {"wildcard": ["*.png", "*.jpg"]}}]
        assert leaf(both, "a.gif")
        assert not leaf(both, "a.jpg")

    def test_typical_forwarding_rule_excludes_own_source(self) -> None:
        forward = compile_pattern({"source": [{"anything-but": "order-service"}]})
        assert not forward.matches(envelope())
        assert forward.matches({**envelope(), "source": "delivery-service"})


# --- numeric ([filtering] "Numeric matching") ---------------------------------------------


class TestNumeric:
    @pytest.mark.parametrize(("value", "expected"), [(0, False), (0.000001, True), (3, True),
                                                     (5, True), (5.000001, False), (-1, False)])
    def test_open_closed_range(self, value: float, expected: bool) -> None:
        assert leaf([{"numeric": [">", 0, "<=", 5]}], value) is expected

    @pytest.mark.parametrize(("matcher", "value", "expected"), [
        (["<", 10], 9.99, True), (["<", 10], 10, False),
        (["<=", 10], 10, True), ([">=", 10], 10, True), ([">", 10], 10, False),
        (["=", 3.018e2], 301.8, True), (["=", 301.8], 301.9, False),
        ([">=", -5, "<", 5], -5, True), ([">=", -5, "<", 5], 5, False),
    ])
    def test_operators(self, matcher: list, value: float, expected: bool) -> None:
        assert leaf([{"numeric": matcher}], value) is expected

    def test_only_json_numbers_match(self) -> None:
        assert not leaf([{"numeric": [">", 0]}], "5")
        assert not leaf([{"numeric": [">", 0]}], True)
        assert not leaf([{"numeric": [">=", 0]}], None)
        assert not leaf([{"numeric": [">", 0]}])

    def test_values_beyond_five_billion_never_match_numerically(self) -> None:
        assert leaf([{"numeric": [">", 0]}], 5e9)
        assert not leaf([{"numeric": [">", 0]}], 5e9 + 1)
        assert not leaf([{"numeric": [">", 0]}], float("inf"))
        assert not leaf([{"numeric": [">", 0]}], 10**400)

    def test_combined_with_other_fields(self) -> None:
        pattern = {"detail-type": ["Order.Created"],
                   "detail": {"total": [{"numeric": [">=", 100]}]}}
        assert matches(pattern, envelope(total=150))
        assert not matches(pattern, envelope(total=50))


# --- exists ([filtering] "Exists matching") -----------------------------------------------


class TestExists:
    def test_true_requires_a_leaf_value(self) -> None:
        assert leaf([{"exists": True}], "x")
        assert leaf([{"exists": True}], None)  # null is a value
        assert leaf([{"exists": True}], 0)
        assert not leaf([{"exists": True}])

    def test_false_matches_when_missing(self) -> None:
        assert leaf([{"exists": False}])
        assert not leaf([{"exists": False}], "x")
        assert not leaf([{"exists": False}], None)

    def test_exists_only_applies_to_leaf_nodes(self) -> None:
        # The guide's example: c-count is an object, so it "does not exist" as a leaf.
        assert leaf([{"exists": False}], {"c1": 100})
        assert not leaf([{"exists": True}], {"c1": 100})

    def test_empty_array_has_no_leaf(self) -> None:
        assert leaf([{"exists": False}], [])
        assert not leaf([{"exists": True}], [])

    def test_false_matches_when_the_parent_object_is_missing(self) -> None:
        pattern = {"detail": {"order": {"c-count": [{"exists": False}]}}}
        assert matches(pattern, envelope())
        event = envelope()
        del event["detail"]
        assert matches(pattern, event)
        assert not matches(pattern, envelope(order={"c-count": 1}))

    def test_exists_false_or_a_value(self) -> None:
        matcher = [{"exists": False}, "x"]
        assert leaf(matcher)
        assert leaf(matcher, "x")
        assert not leaf(matcher, "y")


# --- cidr ([filtering] "IP address matching") ----------------------------------------------


class TestCidr:
    def test_ipv4(self) -> None:
        matcher = [{"cidr": "10.0.0.0/24"}]
        assert leaf(matcher, "10.0.0.0")
        assert leaf(matcher, "10.0.0.255")
        assert not leaf(matcher, "10.0.1.0")
        assert not leaf(matcher, "not an ip")
        assert not leaf(matcher, 10)

    def test_ipv6(self) -> None:
        matcher = [{"cidr": "2001:db8::/64"}]
        assert leaf(matcher, "2001:db8::1")
        assert leaf(matcher, "2001:0db8:0000:0000:ffff:ffff:ffff:ffff")
        assert not leaf(matcher, "2001:db8:0:1::1")
        assert not leaf(matcher, "10.0.0.1")

    def test_families_do_not_mix(self) -> None:
        assert not leaf([{"cidr": "0.0.0.0/0"}], "::1")

    def test_range_starts_at_the_written_address(self) -> None:
        # [ruler] CIDR.cidr: host bits are not cleared, the range is address..broadcast.
        matcher = [{"cidr": "10.0.0.5/24"}]
        assert leaf(matcher, "10.0.0.200")
        assert not leaf(matcher, "10.0.0.4")


# --- $or ([operators] "Or") ----------------------------------------------------------------


class TestOr:
    PATTERN = {"source": ["aws.cloudwatch"],
               "$or": [{"metricName": ["CPUUtilization"]},
                       {"namespace": ["AWS/EC2"], "metricType": ["MetricType"]}]}

    def test_any_branch_with_the_rest_of_the_object(self) -> None:
        compiled = compile_pattern(self.PATTERN)
        assert compiled.matches({"source": "aws.cloudwatch", "metricName": "CPUUtilization"})
        assert compiled.matches({"source": "aws.cloudwatch", "namespace": "AWS/EC2",
                                 "metricType": "MetricType"})
        assert not compiled.matches({"source": "aws.cloudwatch", "namespace": "AWS/EC2"})
        assert not compiled.matches({"source": "aws.ec2", "metricName": "CPUUtilization"})

    def test_inside_detail_and_nested(self) -> None:
        pattern = {"detail": {"$or": [
            {"c-count": [{"numeric": [">", 0, "<=", 5]}]},
            {"d-count": [{"numeric": ["<", 10]}],
             "$or": [{"x": ["a"]}, {"y": ["b"]}]},
        ]}}
        assert matches(pattern, envelope(**{"c-count": 3}))
        assert matches(pattern, envelope(**{"d-count": 3, "y": "b"}))
        assert not matches(pattern, envelope(**{"d-count": 3, "y": "c"}))

    def test_parallel_ors_must_both_hold(self) -> None:
        pattern = {"$or": [{"source": ["a"]}, {"source": ["b"]}],
                   "detail": {"$or": [{"x": [1]}, {"y": [2]}]}}
        assert matches(pattern, {"source": "b", "detail": {"y": 2}})
        assert not matches(pattern, {"source": "b", "detail": {"y": 3}})


# --- validation as PutRule ([ruler] JsonRuleCompiler) ---------------------------------------


class TestValidation:
    @pytest.mark.parametrize(("pattern", "expected"), [
        ("[]", "Filter is not an object"),
        ('"source"', "Filter is not an object"),
        ({}, "Empty objects are not allowed"),
        ({"detail": {}}, "Empty objects are not allowed"),
        ({"source": "order-service"}, '"source" must be an object or an array'),
        ({"detail": {"n": 5}}, '"n" must be an object or an array'),
        ({"source": []}, "Empty arrays are not allowed"),
        ({"source": [["a"]]}, "Match value must be String, number, true, false, or null"),
        ({"source": [{}]}, "Match expression name not found"),
        ({"source": [{"contains": "x"}]}, "Unrecognized match type contains"),
        ({"source": [{"prefix": "a", "suffix": "b"}]}, "Only one key allowed in match expression"),
    ])
    def test_structure(self, pattern: object, expected: str) -> None:
        assert reason(pattern) == expected

    def test_message_is_the_aws_one(self) -> None:
        with pytest.raises(InvalidEventPattern, match=r"^Event pattern is not valid\. Reason: "):
            compile_pattern({"source": []})
        assert issubclass(InvalidEventPattern, ValueError)

    def test_malformed_json_text(self) -> None:
        assert "Expecting" in reason('{"source": [')
        assert "NaN" in reason('{"n": [NaN]}')

    @pytest.mark.parametrize(("matcher", "expected"), [
        ({"prefix": 1}, "prefix match pattern must be a string"),
        ({"prefix": None}, "prefix match pattern must be a string"),
        ({"prefix": {}}, "Prefix expression name not found"),
        ({"prefix": {"wildcard": "a"}}, "Unsupported prefix pattern: wildcard"),
        ({"prefix": {"equals-ignore-case": 1}},
         "equals-ignore-case match pattern must be a string"),
        ({"suffix": ["a"]}, "suffix match pattern must be a string"),
        ({"suffix": {"nope": "a"}}, "Unsupported suffix pattern: nope"),
        ({"equals-ignore-case": 1}, "equals-ignore-case match pattern must be a string"),
        ({"wildcard": 1}, "wildcard match pattern must be a string"),
        ({"wildcard": "a**b"}, "Consecutive wildcard characters at pos 2"),
        ({"wildcard": "a\\b"}, "Invalid escape character at pos 2"),
        ({"wildcard": "ab\\"}, "Invalid escape character at pos 3"),
        ({"exists": "true"}, "exists match pattern must be either true or false."),
        ({"exists": True, "prefix": "a"}, "Only one key allowed in match expression"),
    ])
    def test_string_and_exists_operators(self, matcher: dict, expected: str) -> None:
        assert reason({"f": [matcher]}) == expected

    @pytest.mark.parametrize(("operand", "expected"), [
        ("5", "Value of numeric must be an array."),
        ([], "Invalid member in numeric match: ]"),
        ([5], "Invalid member in numeric match: 5"),
        (["!=", 5], "Unrecognized numeric range operator: !="),
        (["=", "5"], "Value of equals must be numeric"),
        ([">"], "Value of > must be numeric"),
        ([">", True], "Value of > must be numeric"),
        (["=", 5, 6], "Too many elements in numeric expression"),
        (["<", 5, ">", 0], "Too many elements in numeric expression"),
        ([">", 0, 5], "Bad value in numeric range: 5"),
        ([">", 0, ">", 5], "Bad numeric range operator: >"),
        ([">", 0, "<"], "Value of < must be numeric"),
        ([">", 0, "<", 5, 6], "Too many terms in numeric range expression"),
        ([">", 5, "<", 5], "Bottom must be less than top"),
        ([">", 6, "<=", 5], "Bottom must be less than top"),
        ([">", 6e9], "Value must be between -5.0E9 and 5.0E9, inclusive"),
    ])
    def test_numeric(self, operand: object, expected: str) -> None:
        assert reason({"f": [{"numeric": operand}]}) == expected

    def test_numeric_with_a_second_key(self) -> None:
        assert reason({"f": [{"numeric": [">", 0], "prefix": "a"}]}) == (
            "Too many elements in numeric expression")

    @pytest.mark.parametrize(("operand", "expected"), [
        (None, "Value of anything-but must be an array or single string/number value."),
        (True, "Value of anything-but must be an array or single string/number value."),
        ([], "Inside anything but list, either all values are number or string, "
             "mixed type is not supported"),
        (["a", 1], "Inside anything but list, either all values are number or string, "
                   "mixed type is not supported"),
        (["a", None], "Inside anything but list, start|null|boolean is not supported."),
        ([{"prefix": "a"}], "Inside anything but list, start|null|boolean is not supported."),
        ({}, "Anything-But expression name not found"),
        ({"numeric": [">", 1]}, "Unsupported anything-but pattern: numeric"),
        ({"prefix": ""}, "Null prefix/suffix not allowed"),
        ({"suffix": ["a", ""]}, "Null prefix/suffix not allowed"),
        ({"prefix": 1}, "prefix/suffix match pattern must be a string"),
        ({"prefix": None},
         "Value of anything-but must be an array or single string/number value."),
        ({"wildcard": [1]}, "wildcard match pattern must be a string"),
        ({"wildcard": "a**"}, "Consecutive wildcard characters at pos 2"),
        ({"equals-ignore-case": 1},
         "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not "
         "supported."),
        ({"equals-ignore-case": ["a", 2]},
         "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not "
         "supported."),
        ({"prefix": "a", "suffix": "b"}, "Too many elements in numeric expression"),
        ([1e10], "Value must be between -5.0E9 and 5.0E9, inclusive"),
    ])
    def test_anything_but(self, operand: object, expected: str) -> None:
        assert reason({"f": [{"anything-but": operand}]}) == expected

    @pytest.mark.parametrize(("operand", "expected"), [
        (1, "prefix match pattern must be a string"),  # sic, AWS's text for cidr
        ("10.0.0.0", "Malformed CIDR, one '/' required"),
        ("10.0.0.0/", "Malformed CIDR, one '/' required"),
        ("10.0.0.0/8/8", "Malformed CIDR, one '/' required"),
        ("10.0.0.0/x", "Malformed CIDR, mask bits must be an integer"),
        ("10.0.0.0/-1", "Malformed CIDR, mask bits must not be negative"),
        ("example.com/8", "Nonstandard IP address: example.com"),
        ("10.0.0.256/8", "Invalid IP address: 10.0.0.256"),
        ("10.0.0.0/32", "IPv4 mask bits must be < 32"),
        ("::1/128", "IPv6 mask bits must be < 128"),
    ])
    def test_cidr(self, operand: object, expected: str) -> None:
        assert reason({"f": [{"cidr": operand}]}) == expected

    @pytest.mark.parametrize(("pattern", "expected"), [
        ({"$or": {"a": ["x"]}}, "It must be an Array followed with $or."),
        ({"$or": [{"a": ["x"]}]}, "There must have at least 2 Objects in $or relationship."),
        ({"$or": []}, "There must have at least 2 Objects in $or relationship."),
        ({"$or": [{"a": ["x"]}, ["b"]]},
         "Only JSON object is allowed in array of $or relationship."),
        ({"$or": [{"a": ["x"]}, {}]}, "Empty objects are not allowed"),
        ({"$or": [{"a": ["x"]}, {"prefix": ["b"]}]},
         "prefix is Ruler reserved fieldName which cannot be used inside $or."),
        ({"$or": [{"a": ["x"]}, {"b": {"numeric": ["y"]}}]},
         "numeric is Ruler reserved fieldName which cannot be used inside $or."),
    ])
    def test_or(self, pattern: dict, expected: str) -> None:
        assert reason(pattern) == expected

    def test_reserved_names_are_fine_outside_or(self) -> None:
        assert matches({"detail": {"prefix": ["x"]}}, envelope(prefix="x"))

    def test_first_error_in_document_order_wins(self) -> None:
        assert reason({"a": [], "b": "x"}) == "Empty arrays are not allowed"
        assert reason({"b": "x", "a": []}) == '"b" must be an object or an array'

    @pytest.mark.parametrize("pattern", [
        {"source": [{"prefix": ""}]},
        {"f": [{"anything-but": {"equals-ignore-case": []}}]},
        {"f": [{"numeric": [">=", -5e9, "<=", 5e9]}]},
        {"f": [{"cidr": "::/0"}, {"cidr": "0.0.0.0/0"}]},
        {"f": [{"wildcard": "\\\\\\*"}]},
        {"f": [None, True, False, 0, "", {"exists": False}]},
    ])
    def test_valid_edge_patterns_compile(self, pattern: dict) -> None:
        assert isinstance(compile_pattern(pattern), EventPattern)


# --- dot-joined field names ([considerations] in localcloud/patterns.py) -------------------

DOTTED_PATTERNS = [{"detail": {"state": {"status": ["running"]}}},
                   {"detail": {"state.status": ["running"]}}]
DOTTED_EVENTS = [{"detail": {"state": {"status": "running"}}},
                 {"detail": {"state.status": "running"}}]


@pytest.mark.parametrize("pattern", DOTTED_PATTERNS)
@pytest.mark.parametrize("event", DOTTED_EVENTS)
def test_dotted_and_nested_field_names_are_the_same_field_as_aws_documents(
        pattern: dict, event: dict) -> None:
    rule = Rule("r", "arn:aws:events:eu-west-1:1:rule/r", "1", "ENABLED",
                json.dumps(pattern), ())
    other = {"detail": {"state": {"status": "stopped"}}}

    assert RuleMatcher().matching([rule], event) == [rule]
    assert RuleMatcher().matching([rule], other) == []


def test_expanding_dotted_names_leaves_the_original_event_unchanged() -> None:
    event = {"detail": {"state": {"code": 16}, "state.status": "running"}}
    snapshot = json.dumps(event)

    expanded = expand_dotted_keys(event)

    assert expanded == {"detail": {"state": {"code": 16, "status": "running"}}}
    assert json.dumps(event) == snapshot
    plain = {"detail": {"state": {"code": 16}}}
    assert expand_dotted_keys(plain) is plain
