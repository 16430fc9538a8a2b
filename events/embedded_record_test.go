package events

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

func TestFrame_RoundTrip(t *testing.T) {
	for _, tc := range codecCases {
		t.Run(tc.name, func(t *testing.T) {
			key, hs, val, err := Encode(&tc.ev)
			if err != nil {
				t.Fatal(err)
			}
			frame, err := appendFrame([]byte("prefix"), key, hs, val)
			if err != nil {
				t.Fatalf("appendFrame: %v", err)
			}
			r := bufio.NewReader(bytes.NewReader(frame[len("prefix"):]))
			payload, err := readFrame(r, nil)
			if err != nil {
				t.Fatalf("readFrame: %v", err)
			}
			k, h, v, err := decodePayload(payload)
			if err != nil {
				t.Fatalf("decodePayload: %v", err)
			}
			if !bytes.Equal(k, key) || !reflect.DeepEqual(h, hs) || !bytes.Equal(v, val) {
				t.Errorf("decodePayload(frame) = %q %q %q, want %q %q %q", k, h, v, key, hs, val)
			}
			if _, err := readFrame(r, nil); err != io.EOF {
				t.Errorf("readFrame at the end = %v, want io.EOF", err)
			}
		})
	}
}

func TestReadFrame_Damage(t *testing.T) {
	key, hs, val, err := Encode(&codecCases[0].ev)
	if err != nil {
		t.Fatal(err)
	}
	frame, err := appendFrame(nil, key, hs, val)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(frame)
		b[i] ^= 1
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"ShortHeader", frame[:5], errTorn},
		{"ShortPayload", frame[:len(frame)-1], errTorn},
		{"ZeroLength", make([]byte, 16), errBadFrame},
		{"HugeLength", append([]byte{0xff, 0xff, 0xff, 0xff}, frame[4:]...), errBadFrame},
		{"PayloadBitFlip", flip(len(frame) - 3), errBadFrame},
		{"CRCBitFlip", flip(5), errBadFrame},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readFrame(bufio.NewReader(bytes.NewReader(tc.in)), nil)
			if !errors.Is(err, tc.want) {
				t.Errorf("readFrame = %v, want %v", err, tc.want)
			}
		})
	}
}

// FuzzDecodePayload checks that payload decoding never panics and that a
// payload it accepts re-frames to the same bytes.
func FuzzDecodePayload(f *testing.F) {
	for _, tc := range codecCases {
		key, hs, val, err := Encode(&tc.ev)
		if err != nil {
			f.Fatal(err)
		}
		frame, err := appendFrame(nil, key, hs, val)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(frame[frameHeaderLen:])
	}
	f.Add([]byte{0x80, 0x00, 0x00, 0x00}) // an overlong varint
	f.Fuzz(func(t *testing.T, payload []byte) {
		key, hs, val, err := decodePayload(payload)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodePayload error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		frame, err := appendFrame(nil, key, hs, val)
		if err != nil {
			t.Fatalf("appendFrame(decodePayload(x)): %v", err)
		}
		if got := frame[frameHeaderLen:]; !bytes.Equal(got, payload) {
			t.Fatalf("re-framed payload = %q, want %q", got, payload)
		}
		_, _ = Decode(key, hs, val) // must not panic either
	})
}
