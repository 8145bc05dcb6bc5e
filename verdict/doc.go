// Package verdict turns how a sandboxed run ended into one judgement a
// programming-contest judge or a CI system can act on: OK, RE (non-zero
// exit), SG (killed by a signal), TO (time limit), ML (memory limit), OL
// (output limit) or XX (the sandbox itself failed), with the measurements
// behind it.
//
// It writes the judgement as JSON (Verdict's fields) or in the key:value
// meta-file format of isolate, for judges that already parse that.
package verdict
