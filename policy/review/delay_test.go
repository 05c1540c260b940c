package review

import "testing"

func TestSignedDelayMS(t *testing.T) {
	tests := []struct {
		detail string
		want   int64
		wantOK bool
	}{
		{"event_id=evt_1 signed_delay_ms=1250", 1250, true},
		{"signed_delay_ms=-40", -40, true},
		{"event_id=evt_1", 0, false},
		{"", 0, false},
		{"signed_delay_ms=abc", 0, false},
	}
	for _, tt := range tests {
		got, ok := signedDelayMS(tt.detail)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("signedDelayMS(%q) = %d, %v; want %d, %v", tt.detail, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestSummarizeDelays(t *testing.T) {
	if s := summarizeDelays(nil); s != nil {
		t.Errorf("summarizeDelays(nil) = %+v, want nil", s)
	}
	s := summarizeDelays([]int64{900, 100, 300, 200, 5000})
	if s.Count != 5 || s.P50MS != 300 || s.MaxMS != 5000 {
		t.Errorf("summarizeDelays = %+v, want count 5, p50 300, max 5000", s)
	}
}
