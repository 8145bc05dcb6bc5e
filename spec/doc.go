// Package spec reads OCI runtime specs from bundles. A spec is plain data:
// nothing here touches the kernel, and every sandbox nook runs, from
// `nook run` flags or from a bundle, is one of these. Decode reads a
// config.json field by field, so that a start pays encoding/json's
// first-use reflection only for the types the file uses (decode.go).
//
// FieldError is how the libraries report a mistake in a configuration: by
// the field's name (a spec's JSON path, or a Go Config's field), so that
// each front end can word it its own way (a flag, a JSON path).
package spec
