// Package net tests nook's networking from the outside, as a user runs
// it: named namespaces side by side with ip(8), veth pairs between
// namespaces, sandboxes on a bridge with published ports and NAT, and that
// nothing a sandbox's network adds outlives it, however it ends.
//
// Traffic goes only to loopback and between namespaces the tests made.
// Each test that needs a bridge makes one of its own and removes it.
package net
