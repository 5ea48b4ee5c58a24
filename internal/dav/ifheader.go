package dav

import (
	"strings"
)

// condition is one condition of an If list: a state token or an entity
// tag, possibly negated.
type condition struct {
	Not   bool
	Token string
	ETag  string
}

// ifList is one parenthesised list of an If header: all its conditions must
// hold. tag, when set, is the Resource-Tag the list applies to.
type ifList struct {
	tag   string
	conds []condition
}

// parseIf parses an If header (RFC 4918 §10.4):
//
//	If = "If" ":" ( 1*No-tag-list | 1*Tagged-list )
//	No-tag-list = List
//	Tagged-list = Resource-Tag 1*List
//	List = "(" 1*Condition ")"
//	Condition = ["Not"] (State-token | "[" entity-tag "]")
//
// The lists are alternatives: the header holds when any one list holds.
func parseIf(s string) ([]ifList, bool) {
	p := ifParser{s: s}
	p.space()
	if p.done() {
		return nil, false
	}
	tagged := p.peek() == '<'
	var lists []ifList
	tag := ""
	for p.space(); !p.done(); p.space() {
		switch p.peek() {
		case '<':
			if !tagged {
				return nil, false
			}
			t, ok := p.coded()
			if !ok {
				return nil, false
			}
			tag = t
			p.space()
			if p.done() || p.peek() != '(' {
				return nil, false // a tag needs at least one list
			}
		case '(':
			conds, ok := p.list()
			if !ok {
				return nil, false
			}
			lists = append(lists, ifList{tag: tag, conds: conds})
		default:
			return nil, false
		}
	}
	return lists, len(lists) > 0
}

type ifParser struct {
	s string
	i int
}

func (p *ifParser) done() bool { return p.i >= len(p.s) }
func (p *ifParser) peek() byte { return p.s[p.i] }

func (p *ifParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// coded reads "<" URI ">" and returns the URI.
func (p *ifParser) coded() (string, bool) {
	if p.done() || p.peek() != '<' {
		return "", false
	}
	end := strings.IndexByte(p.s[p.i:], '>')
	if end < 0 {
		return "", false
	}
	v := p.s[p.i+1 : p.i+end]
	p.i += end + 1
	if v == "" || strings.ContainsAny(v, " \t<") {
		return "", false
	}
	return v, true
}

// entityTag reads "[" entity-tag "]".
func (p *ifParser) entityTag() (string, bool) {
	p.i++ // '['
	start := p.i
	if strings.HasPrefix(p.s[p.i:], "W/") {
		p.i += 2
	}
	if p.done() || p.peek() != '"' {
		return "", false
	}
	end := strings.IndexByte(p.s[p.i+1:], '"')
	if end < 0 {
		return "", false
	}
	p.i += end + 2
	tag := p.s[start:p.i]
	if p.done() || p.peek() != ']' {
		return "", false
	}
	p.i++
	return tag, true
}

// list reads "(" 1*Condition ")".
func (p *ifParser) list() ([]condition, bool) {
	p.i++ // '('
	var conds []condition
	for {
		p.space()
		if p.done() {
			return nil, false
		}
		if p.peek() == ')' {
			p.i++
			return conds, len(conds) > 0
		}
		var c condition
		if len(p.s)-p.i >= 3 && strings.EqualFold(p.s[p.i:p.i+3], "not") {
			c.Not = true
			p.i += 3
			p.space()
			if p.done() {
				return nil, false
			}
		}
		switch p.peek() {
		case '<':
			t, ok := p.coded()
			if !ok {
				return nil, false
			}
			c.Token = t
		case '[':
			e, ok := p.entityTag()
			if !ok {
				return nil, false
			}
			c.ETag = e
		default:
			return nil, false
		}
		conds = append(conds, c)
	}
}
