package image

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// User resolves an image's User ("uid", "uid:gid", "name", "name:group")
// to numeric IDs, names looked up in the image's own /etc/passwd and
// /etc/group. An empty user is root.
func (img *Image) User(user string) (uid, gid uint32, err error) {
	if user == "" {
		return 0, 0, nil
	}
	u, g, hasGroup := strings.Cut(user, ":")
	id, primary, err := img.lookup("etc/passwd", u)
	if err != nil {
		return 0, 0, fmt.Errorf("image user %q: %w", user, err)
	}
	uid, gid = id, primary
	if hasGroup {
		if gid, _, err = img.lookup("etc/group", g); err != nil {
			return 0, 0, fmt.Errorf("image user %q: %w", user, err)
		}
	}
	return uid, gid, nil
}

// lookup finds name (or a number) in a passwd or group file of the image:
// the ID and, for passwd, the primary group. A number that is not in the
// file is taken as it is, with group 0... as docker does.
func (img *Image) lookup(file, name string) (id, group uint32, err error) {
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		id = uint32(n)
		if file == "etc/passwd" {
			// a numeric user's group is the one its passwd entry names
			if _, g, err := img.scan(file, func(f []string) bool { return f[2] == name }); err == nil {
				return id, g, nil
			}
		}
		return id, 0, nil
	}
	return img.scan(file, func(f []string) bool { return f[0] == name })
}

func (img *Image) scan(file string, match func([]string) bool) (id, group uint32, err error) {
	p, err := img.findFile(file)
	if err != nil {
		return 0, 0, err
	}
	f, err := os.Open(p)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) < 3 || !match(fields) {
			continue
		}
		n, err := strconv.ParseUint(fields[2], 10, 32)
		if err != nil {
			continue
		}
		if len(fields) >= 4 {
			if g, err := strconv.ParseUint(fields[3], 10, 32); err == nil {
				group = uint32(g)
			}
		}
		return uint32(n), group, nil
	}
	return 0, 0, fmt.Errorf("not found in the image's /%s", file)
}

// findFile finds file in the image's layers as the overlay would show it:
// the top-most layer that has it, each resolved inside its layer.
func (img *Image) findFile(file string) (string, error) {
	for _, dir := range img.LayerDirs() {
		p, err := securejoin.SecureJoin(dir, file)
		if err != nil {
			continue
		}
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		if !fi.Mode().IsRegular() {
			break // a whiteout, or something else that hides it
		}
		return p, nil
	}
	return "", fmt.Errorf("the image has no /%s", filepath.ToSlash(file))
}
