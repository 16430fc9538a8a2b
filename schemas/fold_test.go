package schemas

import (
	"strings"
	"testing"
)

// foldSamples are values whose case folding is not ASCII's, or not
// one-to-one.
var foldSamples = []string{
	"", "a", "A", "abc", "ABC", "aBc@Example.COM",
	"\u212a", "k", "K", // KELVIN SIGN folds with k and K
	"ß", "ẞ", "SS", "ss", // simple folding only: ß is not ss
	"Σ", "σ", "ς", // three sigmas, one orbit
	"ǅ", "ǆ", "Ǆ", // title case
	"İ", "i", "ı", "I", // Turkish i: not folded together by SimpleFold
	"Straße", "STRASSE", "École", "ÉCOLE", "école",
	"\xff", "\xfe", "\ufffd", "a\xffb", "A\ufffdB",
}

// TestFold_AgreesWithEvaluator: Fold agrees with the evaluator: Fold(a) == Fold(b) exactly when
// strings.EqualFold(a, b) (eq), and Fold(a) starts with Fold(b) exactly
// when a starts with b ignoring case (sw).
func TestFold_AgreesWithEvaluator(t *testing.T) {
	for _, a := range foldSamples {
		for _, b := range foldSamples {
			if got, want := Fold(a) == Fold(b), strings.EqualFold(a, b); got != want {
				t.Errorf("Fold(%q) == Fold(%q) is %v, strings.EqualFold says %v", a, b, got, want)
			}
			_, sw := trimPrefixFold(a, b)
			if got := strings.HasPrefix(Fold(a), Fold(b)); got != sw {
				t.Errorf("Fold(%q) starts with Fold(%q) is %v, trimPrefixFold says %v", a, b, got, sw)
			}
			for _, c := range foldSamples {
				ab, bc := a+c, b+c
				if got, want := Fold(ab) == Fold(bc), strings.EqualFold(ab, bc); got != want {
					t.Errorf("Fold(%q) == Fold(%q) is %v, strings.EqualFold says %v", ab, bc, got, want)
				}
			}
		}
	}
	if got := Fold("ÀB\u212a"); got != "Àbk" {
		t.Errorf("Fold(ÀB\\u212a) = %q, want %q (the least rune of each orbit, ASCII lower-cased)", got, "Àbk")
	}
}
