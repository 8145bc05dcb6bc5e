package image

import "testing"

// Registries on this machine or a private network are spoken to over
// plain HTTP, as docker and podman let them run; any other over HTTPS.
func TestRegistryScheme(t *testing.T) {
	t.Parallel()
	for reg, want := range map[string]string{
		"localhost:5000":     "http",
		"localhost":          "http",
		"reg.localhost:5000": "http",
		"127.0.0.1:5000":     "http",
		"[::1]:5000":         "http",
		"10.1.2.3:5000":      "http",
		"172.16.0.9":         "http",
		"192.168.1.1:443":    "http",
		"index.docker.io":    "https",
		"ghcr.io":            "https",
		"registry.local":     "https",
		"8.8.8.8:5000":       "https",
		"172.32.0.1":         "https",
	} {
		r, err := ParseReference(reg + "/app")
		if err != nil {
			t.Errorf("%s: %v", reg, err)
			continue
		}
		if got := r.scheme(); got != want {
			t.Errorf("%s: scheme %s, want %s", reg, got, want)
		}
	}
}
