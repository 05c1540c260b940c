package webhook

import (
	"fmt"
	"strings"
)

// partKind is the kind of one piece of a signed-string template.
type partKind uint8

const (
	partLiteral partKind = iota
	partTimestamp
	partID
	partBody
)

// templatePart is one piece of a signed string: literal bytes or a
// placeholder for the timestamp, the id or the body.
type templatePart struct {
	kind    partKind
	literal []byte
}

// maxTemplateLength bounds HMACOptions.Template.
const maxTemplateLength = 256

var placeholderKinds = map[string]partKind{
	"{timestamp}": partTimestamp,
	"{id}":        partID,
	"{body}":      partBody,
}

// parseTemplate splits a signed-string template into parts. It also
// returns the bytes that an id must not contain: those of the literals on
// either side of {id}.
//
// The rules make every signed string split back into one (timestamp, id,
// body) only. Otherwise a delivery could be re-cut, moving bytes between
// the id and the body, and still match. The timestamp is always exactly 10
// digits, the body is the only part of free length that may contain any
// byte, and the id is bounded by separator bytes it may not contain.
func parseTemplate(tmpl string, hasTimestamp, hasID bool) ([]templatePart, string, error) {
	if len(tmpl) > maxTemplateLength {
		return nil, "", fmt.Errorf("template is %d bytes long: use at most %d", len(tmpl), maxTemplateLength)
	}

	var parts []templatePart
	counts := map[partKind]int{}
	rest := tmpl
	for rest != "" {
		open := strings.IndexAny(rest, "{}")
		if open < 0 {
			parts = append(parts, templatePart{kind: partLiteral, literal: []byte(rest)})
			break
		}
		if open > 0 {
			parts = append(parts, templatePart{kind: partLiteral, literal: []byte(rest[:open])})
			rest = rest[open:]
		}
		if rest[0] == '}' {
			return nil, "", fmt.Errorf("template '%s' has a '}' without '{': literal braces are not allowed", tmpl)
		}
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return nil, "", fmt.Errorf("template '%s' has a '{' without '}': close the placeholder", tmpl)
		}
		name := rest[:end+1]
		kind, ok := placeholderKinds[name]
		if !ok {
			return nil, "", fmt.Errorf("template '%s' has the unknown placeholder '%s': use {timestamp}, {id} or {body}", tmpl, name)
		}
		counts[kind]++
		parts = append(parts, templatePart{kind: kind})
		rest = rest[end+1:]
	}

	if counts[partBody] != 1 {
		return nil, "", fmt.Errorf("template '%s' must contain {body} exactly once", tmpl)
	}
	if err := checkPlaceholderCount(tmpl, "{timestamp}", "timestamp header", counts[partTimestamp], hasTimestamp); err != nil {
		return nil, "", err
	}
	if err := checkPlaceholderCount(tmpl, "{id}", "id header", counts[partID], hasID); err != nil {
		return nil, "", err
	}

	var forbidden strings.Builder
	for i, p := range parts {
		if p.kind != partID {
			continue
		}
		for _, j := range []int{i - 1, i + 1} {
			if j < 0 || j >= len(parts) {
				continue
			}
			if parts[j].kind != partLiteral {
				return nil, "", fmt.Errorf("template '%s' has {id} right next to another placeholder: put a separator such as '.' between them", tmpl)
			}
			forbidden.Write(parts[j].literal)
		}
	}
	return parts, forbidden.String(), nil
}

func checkPlaceholderCount(tmpl, placeholder, header string, count int, configured bool) error {
	switch {
	case configured && count != 1:
		return fmt.Errorf("template '%s' must contain %s exactly once because the %s is set: an unsigned value could be changed by anyone", tmpl, placeholder, header)
	case !configured && count != 0:
		return fmt.Errorf("template '%s' contains %s but no %s is set: set the header or remove the placeholder", tmpl, placeholder, header)
	}
	return nil
}
