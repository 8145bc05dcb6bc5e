package testutil

import (
	"crypto/rand"
	"encoding/hex"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
	"testing"
)

// User is an unprivileged user made for one test.
type User struct {
	Name     string
	UID, GID uint32
}

// Credential returns the credential that runs a command as the user, for
// exec.Cmd's SysProcAttr.
func (u *User) Credential() *syscall.Credential {
	return &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: []uint32{}}
}

// CreateUser makes a new unprivileged user, nooktest<random>, without a
// home directory or a login shell, and deletes it when the test ends.
// Skips the test when useradd is missing (or not root).
func CreateUser(t testing.TB) *User {
	t.Helper()
	return createUser(t)
}

// CreateUserInGroup is CreateUser with group, an existing group, as the
// user's primary group instead of a new group of the user's own: a user
// whose group ID is not its user ID.
func CreateUserInGroup(t testing.TB, group string) *User {
	t.Helper()
	return createUser(t, "-g", group)
}

func createUser(t testing.TB, args ...string) *User {
	t.Helper()
	RequireRoot(t)
	if _, err := exec.LookPath("useradd"); err != nil {
		t.Skip("no useradd")
	}
	b := make([]byte, 4)
	rand.Read(b)
	name := "nooktest" + hex.EncodeToString(b)
	if out, err := exec.Command("useradd", append(append([]string{"-M", "-s", "/bin/false"}, args...), name)...).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v\n%s", name, err, out)
		}
	})
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("look up %s: %v", name, err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &User{Name: name, UID: uint32(uid), GID: uint32(gid)}
}
