package image

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Credentials are what a registry is asked with. An empty Credentials is
// anonymous.
type Credentials struct {
	Username, Password string
	// IdentityToken is an OAuth2 refresh token (docker login's for some
	// registries); RegistryToken a bearer token used as it is.
	IdentityToken, RegistryToken string
}

// CredentialsFunc gives the credentials for a registry ("index.docker.io",
// "127.0.0.1:5000") and repository.
type CredentialsFunc func(ctx context.Context, registry, repository string) (Credentials, error)

// DockerConfigCredentials reads credentials as docker and podman keep
// them: the first of $DOCKER_CONFIG/config.json or ~/.docker/config.json,
// $REGISTRY_AUTH_FILE, and containers/auth.json in $XDG_RUNTIME_DIR or
// $XDG_CONFIG_HOME; in it, "auths" entries (auth, or username and
// password, or identitytoken, or registrytoken), and the credential
// helpers named by "credHelpers" and "credsStore" (docker-credential-NAME
// programs).
func DockerConfigCredentials(ctx context.Context, registry, repository string) (Credentials, error) {
	path := dockerConfigPath()
	if path == "" {
		return Credentials{}, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Credentials{}, fmt.Errorf("credentials: %w", err)
	}
	var cf dockerConfig
	if err := json.Unmarshal(b, &cf); err != nil {
		return Credentials{}, fmt.Errorf("credentials: %s: %w", path, err)
	}
	// docker looks up "registry/repository" before "registry"
	for _, key := range []string{registry + "/" + repository, registry} {
		if key == dockerHub {
			key = dockerHubAuthKey
		}
		c, err := cf.lookup(ctx, key)
		if err != nil {
			return Credentials{}, fmt.Errorf("credentials for %s: %s: %w", key, path, err)
		}
		if c != (Credentials{}) {
			return c, nil
		}
	}
	return Credentials{}, nil
}

func dockerConfigPath() string {
	exists := func(p string) bool {
		fi, err := os.Stat(p)
		return err == nil && !fi.IsDir()
	}
	var candidates []string
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		candidates = append(candidates, filepath.Join(d, "config.json"))
	} else if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates, filepath.Join(home, ".docker", "config.json"))
	}
	if p := os.Getenv("REGISTRY_AUTH_FILE"); p != "" {
		candidates = append(candidates, p)
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		candidates = append(candidates, filepath.Join(d, "containers", "auth.json"))
	}
	cfgHome := os.Getenv("XDG_CONFIG_HOME")
	if cfgHome == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cfgHome = filepath.Join(home, ".config")
		}
	}
	if cfgHome != "" {
		candidates = append(candidates, filepath.Join(cfgHome, "containers", "auth.json"))
	}
	for _, p := range candidates {
		if exists(p) {
			return p
		}
	}
	return ""
}

// dockerConfig is the part of docker's config.json (and podman's
// auth.json) that holds credentials.
type dockerConfig struct {
	Auths       map[string]dockerAuth `json:"auths"`
	CredsStore  string                `json:"credsStore"`
	CredHelpers map[string]string     `json:"credHelpers"`
}

type dockerAuth struct {
	Auth          string `json:"auth"`
	Username      string `json:"username"`
	Password      string `json:"password"`
	IdentityToken string `json:"identitytoken"`
	RegistryToken string `json:"registrytoken"`
}

func (cf *dockerConfig) lookup(ctx context.Context, key string) (Credentials, error) {
	if h := cf.CredHelpers[key]; h != "" {
		return credentialHelper(ctx, h, key)
	}
	if cf.CredsStore != "" {
		c, err := credentialHelper(ctx, cf.CredsStore, key)
		if err != nil || c != (Credentials{}) {
			return c, err
		}
	}
	a, ok := cf.Auths[key]
	if !ok {
		// keys may be URLs ("https://host/v1/"): compare their hosts
		for k, v := range cf.Auths {
			if authHost(k) == authHost(key) {
				a, ok = v, true
				break
			}
		}
	}
	if !ok {
		return Credentials{}, nil
	}
	c := Credentials{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken}
	if a.Auth != "" {
		raw, err := base64.StdEncoding.DecodeString(a.Auth)
		if err != nil {
			return Credentials{}, fmt.Errorf("auth of %q is not base64: %w", key, err)
		}
		u, p, ok := strings.Cut(string(raw), ":")
		if !ok {
			return Credentials{}, fmt.Errorf("auth of %q is not base64 of user:password", key)
		}
		c.Username, c.Password = u, p
	}
	return c, nil
}

// authHost is a config key's host: "https://index.docker.io/v1/" is
// "index.docker.io".
func authHost(k string) string {
	k = strings.TrimPrefix(strings.TrimPrefix(k, "https://"), "http://")
	h, _, _ := strings.Cut(k, "/")
	return h
}

// credentialHelper asks docker-credential-NAME for key's credentials, as
// docker does: "get" with the server on stdin, JSON on stdout. A helper
// that knows nothing of key means anonymous.
func credentialHelper(ctx context.Context, name, key string) (Credentials, error) {
	prog := "docker-credential-" + name
	cmd := exec.CommandContext(ctx, prog, "get")
	cmd.Stdin = strings.NewReader(key)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			return Credentials{}, fmt.Errorf("credential helper %s: %w", prog, err)
		}
		msg := strings.TrimSpace(stdout.String() + stderr.String())
		if strings.Contains(msg, "credentials not found") {
			return Credentials{}, nil
		}
		return Credentials{}, fmt.Errorf("credential helper %s: %w: %s", prog, err, msg)
	}
	var out struct{ Username, Secret string }
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return Credentials{}, fmt.Errorf("credential helper %s: %w", prog, err)
	}
	if out.Username == "<token>" {
		return Credentials{IdentityToken: out.Secret}, nil
	}
	return Credentials{Username: out.Username, Password: out.Secret}, nil
}
