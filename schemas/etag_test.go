package schemas

import "testing"

func TestETag(t *testing.T) {
	for _, tt := range []struct {
		version int64
		want    string
	}{{0, `W/"0"`}, {1, `W/"1"`}, {1234567890123, `W/"1234567890123"`}, {-1, `W/"-1"`}} {
		if got := ETag(tt.version); got != tt.want {
			t.Errorf("ETag(%d) = %s, want %s", tt.version, got, tt.want)
		}
		if got := string(AppendETag([]byte("x"), tt.version)); got != "x"+tt.want {
			t.Errorf("AppendETag(x, %d) = %s, want x%s", tt.version, got, tt.want)
		}
	}
}

// TestETags_Matches is the rule If-Match (412 on a mismatch) and
// If-None-Match (304 on a match) share.
func TestETags_Matches(t *testing.T) {
	tests := []struct {
		header string
		want   bool // against version 7
	}{
		{``, false},
		{`   `, false},
		{`W/"7"`, true},
		{`"7"`, true},
		{` W/"7" `, true},
		{`W/"6"`, false},
		{`W/"70"`, false},
		{`W/"6", W/"7"`, true},
		{`W/"6",W/"8"`, false},
		{`*`, true},
		{`W/"6", *`, true},
		{`7`, true},      // unquoted: lenient
		{`W/7`, true},    // unquoted weak: lenient
		{`w/"7"`, false}, // W/ is case-sensitive (RFC 9110 §8.8.3)
		{`W/""`, false},
		{`,`, false},
	}
	for _, tt := range tests {
		p := ParseETags(tt.header)
		if got := p.Matches(7); got != tt.want {
			t.Errorf("ParseETags(%q).Matches(7) = %v, want %v", tt.header, got, tt.want)
		}
		if got, want := p.Present(), tt.header != "" && tt.header != "   "; got != want {
			t.Errorf("ParseETags(%q).Present() = %v, want %v", tt.header, got, want)
		}
	}
}

func TestETags_CheckIfMatch(t *testing.T) {
	if err := ParseETags("").CheckIfMatch(3); err != nil {
		t.Errorf("absent If-Match: %v, want nil", err)
	}
	if err := ParseETags(`W/"3"`).CheckIfMatch(3); err != nil {
		t.Errorf("If-Match W/\"3\" at version 3: %v, want nil", err)
	}
	err := ParseETags(` W/"2" `).CheckIfMatch(3)
	if KindOf(err) != KindPrecondition {
		t.Fatalf("If-Match W/\"2\" at version 3: %v, want KindPrecondition", err)
	}
	if got, want := err.(*Error).Detail, `If-Match W/"2" does not match the current version W/"3"`; got != want {
		t.Errorf("detail = %q, want %q", got, want)
	}
}
