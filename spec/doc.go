// Package spec reads OCI runtime specs from bundles. A spec is plain data:
// nothing here touches the kernel, and every sandbox nook runs, from
// `nook run` flags or from a bundle, is one of these.
package spec
