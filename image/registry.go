package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// The most nook reads of a manifest, an index, a config or an error
// document: real ones are kilobytes; a registry sending more is broken
// or hostile.
const maxDocument = 8 << 20

// manifestAccept is every manifest type nook reads, as Accept lists them.
const manifestAccept = MediaTypeOCIManifest + ", " + MediaTypeOCIIndex + ", " + MediaTypeDockerManifest + ", " + MediaTypeDockerList

// registry speaks the registry v2 protocol (the OCI distribution spec's
// pull side) to one repository: a ping of /v2/ that says how to
// authenticate (nothing, Basic, or a Bearer token from the realm
// WWW-Authenticate names), manifests, and blobs.
type registry struct {
	ref   Reference
	base  string // scheme://host
	http  *http.Client
	creds CredentialsFunc

	mu   sync.Mutex
	auth string // the Authorization header, once known
}

func newRegistry(ref Reference, o *PullOptions) *registry {
	rt := o.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	creds := o.Credentials
	if creds == nil {
		creds = DockerConfigCredentials
	}
	return &registry{ref: ref, base: ref.scheme() + "://" + ref.Registry, http: &http.Client{Transport: rt}, creds: creds}
}

// login pings the registry and gets what its challenge asks for.
func (r *registry) login(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+"/v2/", nil)
	if err != nil {
		return err
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return fmt.Errorf("registry %s: %w", r.ref.Registry, err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxDocument))
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusUnauthorized:
		return r.answer(ctx, resp)
	}
	return fmt.Errorf("registry %s: GET /v2/: %s", r.ref.Registry, resp.Status)
}

// answer meets a 401's challenge.
func (r *registry) answer(ctx context.Context, resp *http.Response) error {
	scheme, params := parseChallenge(resp.Header.Get("WWW-Authenticate"))
	c, err := r.creds(ctx, r.ref.Registry, r.ref.Repository)
	if err != nil {
		return err
	}
	var auth string
	switch strings.ToLower(scheme) {
	case "basic":
		if c.Username == "" && c.Password == "" {
			return fmt.Errorf("registry %s: %s: it asks for a user name and password, and the docker config file has none for it", r.ref.Registry, resp.Status)
		}
		auth = basicAuth(c.Username, c.Password)
	case "bearer":
		tok, err := r.token(ctx, params, c)
		if err != nil {
			return err
		}
		auth = "Bearer " + tok
	default:
		return fmt.Errorf("registry %s: %s: authentication scheme %q is not supported (only Basic and Bearer)", r.ref.Registry, resp.Status, scheme)
	}
	r.mu.Lock()
	r.auth = auth
	r.mu.Unlock()
	return nil
}

func basicAuth(user, password string) string {
	req := http.Request{Header: http.Header{}}
	req.SetBasicAuth(user, password)
	return req.Header.Get("Authorization")
}

// token gets a bearer token for pulling the repository from the realm:
// GET with Basic credentials (or none), or, with an identity token, the
// OAuth2 refresh-token POST docker uses.
func (r *registry) token(ctx context.Context, params map[string]string, c Credentials) (string, error) {
	if c.RegistryToken != "" {
		return c.RegistryToken, nil
	}
	realm := params["realm"]
	u, err := url.Parse(realm)
	if err != nil || realm == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", fmt.Errorf("registry %s: bearer challenge has no usable realm (%q)", r.ref.Registry, realm)
	}
	scope := "repository:" + r.ref.Repository + ":pull"
	var req *http.Request
	if c.IdentityToken != "" {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {c.IdentityToken}, "client_id": {"nook"}, "scope": {scope}}
		if s := params["service"]; s != "" {
			form.Set("service", s)
		}
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, realm, strings.NewReader(form.Encode()))
		if err != nil {
			return "", err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		q := u.Query()
		if s := params["service"]; s != "" {
			q.Set("service", s)
		}
		q.Set("scope", scope)
		u.RawQuery = q.Encode()
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return "", err
		}
		if c.Username != "" || c.Password != "" {
			req.SetBasicAuth(c.Username, c.Password)
		}
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("registry %s: token: %w", r.ref.Registry, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("registry %s: token from %s: %s%s", r.ref.Registry, u.Host, resp.Status, errorBody(resp.Body))
	}
	var t struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDocument)).Decode(&t); err != nil {
		return "", fmt.Errorf("registry %s: token from %s: %w", r.ref.Registry, u.Host, err)
	}
	if t.Token == "" {
		t.Token = t.AccessToken
	}
	if t.Token == "" {
		return "", fmt.Errorf("registry %s: token from %s: no token in the answer", r.ref.Registry, u.Host)
	}
	return t.Token, nil
}

// parseChallenge reads a WWW-Authenticate header: a scheme and its
// comma-separated key="value" parameters.
func parseChallenge(h string) (scheme string, params map[string]string) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	params = map[string]string{}
	for rest = strings.TrimSpace(rest); rest != ""; {
		k, v, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		k = strings.ToLower(strings.TrimSpace(k))
		v = strings.TrimSpace(v)
		if strings.HasPrefix(v, `"`) {
			// a quoted string, with backslash escapes
			var b strings.Builder
			i := 1
			for ; i < len(v) && v[i] != '"'; i++ {
				if v[i] == '\\' && i+1 < len(v) {
					i++
				}
				b.WriteByte(v[i])
			}
			params[k] = b.String()
			rest = v[min(i+1, len(v)):]
		} else {
			val, after, _ := strings.Cut(v, ",")
			params[k] = strings.TrimSpace(val)
			rest = "," + after
		}
		rest = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), ","))
	}
	return scheme, params
}

// get sends an authorized GET; a 401 (a token expired, or a registry
// that wants credentials only here) is answered once and retried.
func (r *registry) get(ctx context.Context, path, accept string) (*http.Response, error) {
	for try := 0; ; try++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+path, nil)
		if err != nil {
			return nil, err
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		r.mu.Lock()
		if r.auth != "" {
			req.Header.Set("Authorization", r.auth)
		}
		r.mu.Unlock()
		resp, err := r.http.Do(req)
		if err != nil {
			return nil, fmt.Errorf("registry %s: %w", r.ref.Registry, err)
		}
		if resp.StatusCode == http.StatusOK {
			return resp, nil
		}
		if resp.StatusCode == http.StatusUnauthorized && try == 0 {
			io.Copy(io.Discard, io.LimitReader(resp.Body, maxDocument))
			resp.Body.Close()
			if err := r.answer(ctx, resp); err != nil {
				return nil, err
			}
			continue
		}
		defer resp.Body.Close()
		return nil, fmt.Errorf("registry %s: GET %s: %s%s", r.ref.Registry, path, resp.Status, errorBody(resp.Body))
	}
}

// errorBody is the messages of a registry's error document, if it sent
// one, for an error message.
func errorBody(body io.Reader) string {
	var doc struct {
		Errors []struct{ Code, Message string } `json:"errors"`
	}
	b, _ := io.ReadAll(io.LimitReader(body, 64<<10))
	if json.Unmarshal(b, &doc) != nil || len(doc.Errors) == 0 {
		return ""
	}
	var msgs []string
	for _, e := range doc.Errors {
		msgs = append(msgs, strings.TrimSpace(e.Code+" "+e.Message))
	}
	return ": " + strings.Join(msgs, "; ")
}

// manifest fetches a manifest or index by tag or digest: its bytes, its
// media type, and its digest (computed; checked when asked by digest).
func (r *registry) manifest(ctx context.Context, id string) (b []byte, mediaType, digest string, err error) {
	resp, err := r.get(ctx, "/v2/"+r.ref.Repository+"/manifests/"+id, manifestAccept)
	if err != nil {
		return nil, "", "", err
	}
	defer resp.Body.Close()
	b, err = io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil {
		return nil, "", "", fmt.Errorf("registry %s: manifest %s: %w", r.ref.Registry, id, err)
	}
	if len(b) > maxDocument {
		return nil, "", "", fmt.Errorf("registry %s: manifest %s: larger than %d bytes", r.ref.Registry, id, maxDocument)
	}
	digest = digestOf(b)
	if strings.HasPrefix(id, "sha256:") && digest != id {
		return nil, "", "", fmt.Errorf("registry %s: manifest %s: digest mismatch: got %s (corrupt or tampered with)", r.ref.Registry, id, digest)
	}
	mediaType, _, _ = strings.Cut(resp.Header.Get("Content-Type"), ";")
	mediaType = strings.TrimSpace(mediaType)
	if !isIndex(mediaType) && !isManifest(mediaType) {
		mediaType = mediaTypeOf(b)
	}
	return b, mediaType, digest, nil
}

// blob opens a blob's stream; the caller checks it against its digest.
func (r *registry) blob(ctx context.Context, d Descriptor) (io.ReadCloser, error) {
	resp, err := r.get(ctx, "/v2/"+r.ref.Repository+"/blobs/"+d.Digest, "")
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// resolve finds the image manifest ref names for platform p: the
// manifest, its digest, and the digest ref first led to (an index's, for
// a multi-platform image).
func (r *registry) resolve(ctx context.Context, p Platform) (raw []byte, digest, top string, err error) {
	raw, mt, digest, err := r.manifest(ctx, r.ref.identifier())
	if err != nil {
		return nil, "", "", err
	}
	top = digest
	for depth := 0; isIndex(mt); depth++ {
		if depth == 4 {
			return nil, "", "", errors.New("indexes nested more than 4 deep")
		}
		ix, err := parseIndex(raw)
		if err != nil {
			return nil, "", "", err
		}
		d, err := ix.choose(p)
		if err != nil {
			return nil, "", "", err
		}
		if raw, mt, digest, err = r.manifest(ctx, d.Digest); err != nil {
			return nil, "", "", err
		}
	}
	if !isManifest(mt) {
		return nil, "", "", fmt.Errorf("manifest of media type %q is not an image manifest nook can read", mt)
	}
	return raw, digest, top, nil
}

// choose picks the entry of an index for platform p.
func (ix *Index) choose(p Platform) (Descriptor, error) {
	var have []string
	for _, d := range ix.Manifests {
		var dp Platform
		if d.Platform != nil {
			dp = *d.Platform
		}
		if dp.satisfies(p) && (isManifest(d.MediaType) || isIndex(d.MediaType)) {
			return d, nil
		}
		if d.Platform != nil {
			have = append(have, dp.String())
		}
	}
	return Descriptor{}, fmt.Errorf("no image for %s in the index (it has: %s)", p, strings.Join(have, ", "))
}
