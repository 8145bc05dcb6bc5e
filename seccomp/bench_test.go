package seccomp

import "testing"

func BenchmarkCompileDefault(b *testing.B) {
	p := Default()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDefaultAndCompile includes building the profile itself.
func BenchmarkDefaultAndCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(Default()); err != nil {
			b.Fatal(err)
		}
	}
}
