package schemas

import (
	"encoding/json"
	"reflect"
	"testing"
)

var filterValuesTests = []struct {
	name, in string
	want     []string // the values as written
}{
	{"Path", `name.givenName`, nil},
	{"ValuePath", `emails[type eq "work"].value`, []string{`"work"`}},
	{"Filter", `userName eq "bjensen" and meta.lastModified gt "2011-05-13T04:42:34Z"`, []string{`"bjensen"`, `"2011-05-13T04:42:34Z"`}},
	{"Unquoted", `members[value eq u1001 or value eq 42 or display pr]`, []string{`u1001`, `42`}},
	{"Literals", `x[active eq TRUE and y eq null or z ne False]`, nil},
	{"QuotedLiteral", `x eq "true"`, []string{`"true"`}},
	{"OperatorCase", `userName EQ "a" or title Sw b`, []string{`"a"`, `b`}},
	{"AcrossParen", `a eq (b)`, []string{`b`}},
	{"OnlyNextToken", `a eq b c`, []string{`b`}},
	{"Escapes", `a[b eq "x\"y\u00e9"]`, []string{`"x\"y\u00e9"`}},
	{"StringAnywhere", `"a" pr`, []string{`"a"`}},
	{"NotAPath", `a b c`, nil},
	{"AttributeNamedLikeOperator", `eq eq 1 and eq pr`, []string{`eq`, `1`, `pr`}},
	{"Empty", ``, nil},
	{"URN", `urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"`, []string{`"J"`}},
}

func TestFilterValues(t *testing.T) {
	for _, tt := range filterValuesTests {
		t.Run(tt.name, func(t *testing.T) {
			vals, err := FilterValues(tt.in)
			if err != nil {
				t.Fatalf("FilterValues(%q) error = %v", tt.in, err)
			}
			var got []string
			for _, v := range vals {
				got = append(got, tt.in[v.Start:v.End])
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("FilterValues(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	vals, err := FilterValues(`a eq "x\"y\u00e9" or b eq 7`)
	want := []FilterValue{{Start: 5, End: 17, Value: `x"yé`, Quoted: true}, {Start: 26, End: 27, Value: "7"}}
	if err != nil || !reflect.DeepEqual(vals, want) {
		t.Errorf("FilterValues() = %+v, %v; want %+v", vals, err, want)
	}
}

func TestFilterValues_Errors(t *testing.T) {
	for _, in := range []string{`/home/alice`, `a[b eq "unterminated]`, `emails[value eq a@b.c]`, `a eq "\q"`, `a eq 1.2.3`, `a eq Zoë`} {
		if vals, err := FilterValues(in); err == nil || KindOf(err) != KindInvalidFilter {
			t.Errorf("FilterValues(%q) = %v, %v; want an error of KindInvalidFilter", in, vals, err)
		}
	}
}

// FuzzFilterValues: FilterValues never panics, its values are in order and
// inside the input, and on a filter the parser accepts it finds every string
// and number value of the tree.
func FuzzFilterValues(f *testing.F) {
	for _, tt := range filterValuesTests {
		f.Add(tt.in)
	}
	for _, tt := range parseFilterCases {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		vals, err := FilterValues(in)
		if err != nil {
			if KindOf(err) != KindInvalidFilter {
				t.Fatalf("FilterValues(%q) error = %#v, want KindInvalidFilter", in, err)
			}
			return
		}
		end := 0
		for _, v := range vals {
			if v.Start < end || v.End <= v.Start || v.End > len(in) || v.Quoted != (in[v.Start] == '"') {
				t.Fatalf("FilterValues(%q) = %+v: bad span %+v", in, vals, v)
			}
			end = v.End
		}
		e, err := ParseFilter(in)
		if err != nil {
			return
		}
		var got, want []string
		for _, v := range vals {
			got = append(got, v.Value)
		}
		walkCompares(e, func(c *CompareExpr) {
			switch v := c.Value.(type) {
			case string:
				want = append(want, v)
			case json.Number:
				want = append(want, string(v))
			}
		})
		// More is fine where an attribute is named like an operator
		// ("eq eq 1"): what follows it is taken for a value too.
		if !isSubsequence(want, got) {
			t.Fatalf("FilterValues(%q) = %q, the parsed filter holds %q", in, got, want)
		}
	})
}

// isSubsequence reports whether want is got with some elements left out.
func isSubsequence(want, got []string) bool {
	for _, g := range got {
		if len(want) > 0 && want[0] == g {
			want = want[1:]
		}
	}
	return len(want) == 0
}

// walkCompares calls fn for each comparison of e in the order written.
func walkCompares(e Expr, fn func(*CompareExpr)) {
	switch e := e.(type) {
	case *CompareExpr:
		fn(e)
	case *LogicalExpr:
		walkCompares(e.Left, fn)
		walkCompares(e.Right, fn)
	case *NotExpr:
		walkCompares(e.X, fn)
	case *ValuePathExpr:
		walkCompares(e.Filter, fn)
	}
}
