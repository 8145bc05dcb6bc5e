package image

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// Docker Hub, as references name it and as nook records it.
const (
	dockerHub      = "index.docker.io"
	dockerHubAlias = "docker.io"
	// the key Docker Hub's credentials have in the docker config file
	dockerHubAuthKey = "https://index.docker.io/v1/"
	defaultTag       = "latest"
)

// Reference is an image reference, docker's way: [REGISTRY/]PATH[:TAG]
// or [REGISTRY/]PATH@DIGEST. The first path component is a registry when
// it has a "." or a ":" or is "localhost"; with none, it is Docker Hub,
// where a one-component path is in "library/".
type Reference struct {
	Registry   string // "index.docker.io", "127.0.0.1:5000"
	Repository string // "library/busybox"
	Tag        string // empty when Digest is set
	Digest     string // "sha256:..."
}

// ParseReference reads an image reference. A reference with both a tag
// and a digest keeps only the digest (it names the image; the tag is a
// label). No tag and no digest means "latest".
func ParseReference(s string) (Reference, error) {
	bad := func(format string, a ...any) (Reference, error) {
		return Reference{}, fmt.Errorf("image reference %q: %s", s, fmt.Sprintf(format, a...))
	}
	if s == "" {
		return bad("empty")
	}
	base, dig, hasDigest := strings.Cut(s, "@")
	if hasDigest {
		if strings.Contains(dig, "@") {
			return bad("more than one '@'")
		}
		if err := checkDigest(dig); err != nil {
			return bad("%v", err)
		}
	}
	var r Reference
	// a tag is after the last ':' that has no '/' after it (a ':' before
	// a '/' is a registry's port)
	tag := ""
	if i := strings.LastIndexByte(base, ':'); i >= 0 && !strings.Contains(base[i+1:], "/") {
		base, tag = base[:i], base[i+1:]
		if tag == "" {
			return bad("no tag after the ':'")
		}
		if err := checkChars(tag, tagChars, 128); err != nil {
			return bad("tag %q: %v", tag, err)
		}
	}
	if base == "" {
		return bad("no repository")
	}
	repo := base
	if first, rest, ok := strings.Cut(base, "/"); ok && (first == "localhost" || strings.ContainsAny(first, ".:")) {
		r.Registry, repo = first, rest
		if u, err := url.Parse("//" + first); err != nil || u.Host != first {
			return bad("registry %q is not a host[:port]", first)
		}
	}
	if repo == "" {
		return bad("no repository after the registry")
	}
	if err := checkChars(repo, repositoryChars, 255); err != nil {
		return bad("repository %q: %v", repo, err)
	}
	if strings.HasPrefix(repo, "/") || strings.HasSuffix(repo, "/") || strings.Contains(repo, "//") {
		return bad("repository %q: empty path component", repo)
	}
	switch r.Registry {
	case "", dockerHubAlias:
		r.Registry = dockerHub
	}
	if r.Registry == dockerHub && !strings.Contains(repo, "/") {
		repo = "library/" + repo
	}
	r.Repository = repo
	if hasDigest {
		r.Digest = dig
	} else {
		r.Tag = tag
		if r.Tag == "" {
			r.Tag = defaultTag
		}
	}
	return r, nil
}

const (
	repositoryChars = "abcdefghijklmnopqrstuvwxyz0123456789_-./"
	tagChars        = "abcdefghijklmnopqrstuvwxyz0123456789_-.ABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

func checkChars(s, allowed string, max int) error {
	if len(s) > max {
		return fmt.Errorf("longer than %d characters", max)
	}
	for _, c := range s {
		if !strings.ContainsRune(allowed, c) {
			return fmt.Errorf("character %q is not allowed (only %s)", c, allowed)
		}
	}
	return nil
}

// Repo is the repository's full name: "index.docker.io/library/busybox".
func (r Reference) Repo() string { return r.Registry + "/" + r.Repository }

// Name is the reference in full: the repository with its tag or digest.
// It is the name the store records.
func (r Reference) Name() string {
	if r.Digest != "" {
		return r.Repo() + "@" + r.Digest
	}
	return r.Repo() + ":" + r.Tag
}

func (r Reference) String() string { return r.Name() }

// WithDigest is the same repository at digest d.
func (r Reference) WithDigest(d string) Reference {
	r.Tag, r.Digest = "", d
	return r
}

// identifier is what the registry's manifest endpoint takes.
func (r Reference) identifier() string {
	if r.Digest != "" {
		return r.Digest
	}
	return r.Tag
}

// scheme is "http" for registries on this machine or a private network
// (where registries are run without TLS, as docker and podman let them
// be), "https" for any other.
func (r Reference) scheme() string {
	host := r.Registry
	if h, _, err := splitHostPort(host); err == nil {
		host = h
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return "http"
	}
	if a, err := netip.ParseAddr(host); err == nil && (a.IsLoopback() || a.IsPrivate() && a.Is4()) {
		return "http"
	}
	return "https"
}

// splitHostPort splits "host:port" and "[v6]:port"; a bare host has no
// port.
func splitHostPort(s string) (host, port string, err error) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", errors.New("no ']'")
		}
		host, rest := s[1:end], s[end+1:]
		if rest == "" {
			return host, "", nil
		}
		p, ok := strings.CutPrefix(rest, ":")
		if !ok {
			return "", "", errors.New("junk after ']'")
		}
		return host, p, nil
	}
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return s, "", nil
	}
	return h, p, nil
}
