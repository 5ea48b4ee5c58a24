package dav

import (
	"reflect"
	"testing"
)

func TestParseIf(t *testing.T) {
	tok := "opaquelocktoken:f81d4fae-7dec-11d0-a765-00a0c91e6bf2"
	tests := []struct {
		in   string
		want []ifList
	}{
		{"(<" + tok + ">)", []ifList{{conds: []condition{{Token: tok}}}}},
		{`(Not <DAV:no-lock> ["I am an ETag"])`, []ifList{{conds: []condition{{Not: true, Token: "DAV:no-lock"}, {ETag: `"I am an ETag"`}}}}},
		{`(<a:b>) (["x"])`, []ifList{{conds: []condition{{Token: "a:b"}}}, {conds: []condition{{ETag: `"x"`}}}}},
		{`<http://h/r> (<a:b>) ([W/"w"]) <http://h/s> (NOT <c:d>)`, []ifList{
			{tag: "http://h/r", conds: []condition{{Token: "a:b"}}},
			{tag: "http://h/r", conds: []condition{{ETag: `W/"w"`}}},
			{tag: "http://h/s", conds: []condition{{Not: true, Token: "c:d"}}},
		}},
		{`  ( <a:b> )  `, []ifList{{conds: []condition{{Token: "a:b"}}}}},
		{`(["a]b"])`, []ifList{{conds: []condition{{ETag: `"a]b"`}}}}},
	}
	for _, tt := range tests {
		got, ok := parseIf(tt.in)
		if !ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseIf(%q) = %+v, %v; want %+v", tt.in, got, ok, tt.want)
		}
	}
	for _, bad := range []string{"", "()", "(", "<a:b>", "(<a:b>", "(a:b)", `(["x)`, `(<a:b>) <http://h/r> (<c:d>)`, "(Not)", "([x])", "(<>)", "(<a b>)"} {
		if got, ok := parseIf(bad); ok {
			t.Errorf("parseIf(%q) = %+v, want failure", bad, got)
		}
	}
}

func FuzzParseIf(f *testing.F) {
	for _, s := range []string{"(<a:b>)", `<http://x/y> (Not <a:b> ["e"])`, `([W/"x"]) (<DAV:no-lock>)`, "(", "<"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lists, ok := parseIf(s)
		if !ok {
			return
		}
		if len(lists) == 0 {
			t.Fatalf("parseIf(%q) ok with no lists", s)
		}
		for _, l := range lists {
			if len(l.conds) == 0 {
				t.Fatalf("parseIf(%q): empty list", s)
			}
			for _, c := range l.conds {
				if (c.Token == "") == (c.ETag == "") {
					t.Fatalf("parseIf(%q): condition %+v must have exactly one of token and etag", s, c)
				}
			}
		}
	})
}
