package dav

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode"

	"github.com/davnas/davnas/internal/httperr"
)

// maxXMLBody bounds a request's XML body (PROPFIND, PROPPATCH, LOCK).
const maxXMLBody = 1 << 20

const nsDAV = "DAV:"

var errBadXML = errors.New("malformed XML request body")

// badBody is the answer to an XML body that could not be parsed: 400 with
// msg, or 413 when it was longer than maxXMLBody.
func badBody(msg string, err error) error {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return httperr.Wrap(http.StatusRequestEntityTooLarge, "XML request body larger than 1 MiB", err)
	}
	return httperr.Wrap(http.StatusBadRequest, msg, err)
}

// xmlDecoder returns a decoder over a bounded request body that rejects
// what encoding/xml lets through: a prefix declared with an empty namespace
// (xmlns:p=""), which XML Namespaces 1.0 forbids (litmus propfind_invalid2).
type xmlDecoder struct {
	d *xml.Decoder
}

func newXMLDecoder(r io.Reader) *xmlDecoder {
	d := xml.NewDecoder(http.MaxBytesReader(nil, io.NopCloser(r), maxXMLBody))
	d.Strict = true
	return &xmlDecoder{d: d}
}

// token returns the next token, skipping comments, processing instructions
// and directives, and failing on invalid namespace declarations.
func (x *xmlDecoder) token() (xml.Token, error) {
	for {
		tok, err := x.d.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if !validName(t.Name.Local) {
				return nil, errBadXML // encoding/xml lets <z:1bad> through
			}
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" && a.Value == "" {
					return nil, errBadXML
				}
			}
			return t, nil
		case xml.Comment, xml.ProcInst, xml.Directive:
			continue
		default:
			return tok, nil
		}
	}
}

// root reads up to the document element; io.EOF when the body is empty.
func (x *xmlDecoder) root() (xml.StartElement, error) {
	for {
		tok, err := x.token()
		if err != nil {
			return xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return xml.StartElement{}, errBadXML
			}
		default:
			return xml.StartElement{}, errBadXML
		}
	}
}

// children calls fn for each child element of the element just started,
// with the decoder positioned after the child's start tag; fn must consume
// the child up to its end tag (skip does). Text between children is ignored.
func (x *xmlDecoder) children(fn func(xml.StartElement) error) error {
	for {
		tok, err := x.token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if err := fn(t); err != nil {
				return err
			}
		case xml.EndElement:
			return nil
		}
	}
}

// skip consumes the rest of the element just started.
func (x *xmlDecoder) skip() error {
	return x.children(func(xml.StartElement) error { return x.skip() })
}

// end requires that nothing but whitespace follows the document element.
func (x *xmlDecoder) end() error {
	for {
		tok, err := x.token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if cd, ok := tok.(xml.CharData); !ok || len(bytes.TrimSpace(cd)) != 0 {
			return errBadXML
		}
	}
}

// inner consumes the rest of the element just started and returns its
// content as self-contained XML: every element re-serialized with its
// namespace declared on itself, so the value means the same wherever it is
// written later (a dead property's value, a lock's owner).
func (x *xmlDecoder) inner() (string, error) {
	var b strings.Builder
	depth := 0
	for {
		tok, err := x.token()
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			writeStart(&b, t)
		case xml.EndElement:
			if depth == 0 {
				return b.String(), nil
			}
			depth--
			b.WriteString("</")
			b.WriteString(t.Name.Local)
			b.WriteByte('>')
		case xml.CharData:
			escapeTo(&b, string(t))
		}
	}
}

const nsXML = "http://www.w3.org/XML/1998/namespace"

// writeStart writes a start tag declaring its own default namespace and a
// prefix for each namespaced attribute.
func writeStart(b *strings.Builder, t xml.StartElement) {
	b.WriteByte('<')
	b.WriteString(t.Name.Local)
	b.WriteString(` xmlns="`)
	xml.EscapeText(b, []byte(t.Name.Space))
	b.WriteByte('"')
	n := 0
	for _, a := range t.Attr {
		switch {
		case a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns"):
			continue // our own declarations replace the sender's
		case a.Name.Space == "xml" || a.Name.Space == nsXML:
			b.WriteString(" xml:")
			b.WriteString(a.Name.Local)
		case a.Name.Space != "":
			p := "a" + strconv.Itoa(n)
			n++
			b.WriteString(" xmlns:" + p + `="`)
			xml.EscapeText(b, []byte(a.Name.Space))
			b.WriteString(`" ` + p + ":" + a.Name.Local)
		default:
			b.WriteByte(' ')
			b.WriteString(a.Name.Local)
		}
		b.WriteString(`="`)
		xml.EscapeText(b, []byte(a.Value))
		b.WriteByte('"')
	}
	b.WriteByte('>')
}

// escape returns s escaped for XML text: &, < and > as entities, carriage
// returns as a character reference, and what XML 1.0 cannot carry at all
// (control characters, invalid UTF-8) as U+FFFD. Quotes stay as they are,
// so an ETag reads "..." and not &#34;...&#34; for clients that match text.
func escape(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	escapeTo(&b, s)
	return b.String()
}

// needsEscape reports whether s is anything but printable ASCII without
// &, < and >.
func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '&' || c == '<' || c == '>' {
			return true
		}
	}
	return false
}

// needsEscapeBytes is needsEscape for a byte slice.
func needsEscapeBytes(p []byte) bool {
	for _, c := range p {
		if c < 0x20 || c >= 0x80 || c == '&' || c == '<' || c == '>' {
			return true
		}
	}
	return false
}

func escapeTo(b interface {
	WriteString(string) (int, error)
	WriteRune(rune) (int, error)
}, s string) {
	if !needsEscape(s) { // most names
		b.WriteString(s)
		return
	}
	for _, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '\r':
			b.WriteString("&#xD;")
		case r == '\t' || r == '\n' || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF):
			b.WriteRune(r)
		default: // includes utf8.RuneError from invalid bytes
			b.WriteRune('\uFFFD')
		}
	}
}

// validName reports whether s is an XML local name (an NCName): what we
// write back as an element name must be one, or the response is not XML.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || unicode.IsLetter(r):
		case i > 0 && (r == '-' || r == '.' || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r)):
		default:
			return false
		}
	}
	return true
}

// writeProp writes a property element with the given (already XML) value.
// DAV: properties use the D: prefix of the enclosing multistatus; others
// declare their namespace as the element's default one.
func writeProp(b *bytes.Buffer, n xml.Name, value string) {
	if n.Space != nsDAV && !validName(n.Local) {
		return // a stored name that is no XML name (a hand-edited sidecar): skipped
	}
	if n.Space == nsDAV {
		b.WriteString("<D:" + n.Local)
	} else {
		b.WriteString("<" + n.Local + ` xmlns="`)
		xml.EscapeText(b, []byte(n.Space))
		b.WriteByte('"')
	}
	if value == "" {
		b.WriteString("/>")
		return
	}
	b.WriteByte('>')
	b.WriteString(value)
	if n.Space == nsDAV {
		b.WriteString("</D:" + n.Local + ">")
	} else {
		b.WriteString("</" + n.Local + ">")
	}
}
