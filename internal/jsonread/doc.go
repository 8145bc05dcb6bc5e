// Package jsonread reads JSON a value at a time, for decoders written by
// hand: the files that every nook exec reads (a sandbox's state and its
// exec cache) are decoded without encoding/json's reflection, whose first
// use of a type builds its whole graph of fields and encoders, 0.1-0.2 ms
// per file in a fresh process, against some 10 us for the reading itself.
//
// It goes no further than the files need: a Reader walks one document
// token by token (encoding/json's Decoder.Token, which reflects on
// nothing), and a decoder says what each value must be. What it reads is
// what json.Unmarshal would, for documents json.Marshal wrote: keys are
// matched exactly (encoding/json would also take another case), unknown
// keys are skipped, null leaves a value unset, and a value of the wrong
// kind, a number out of range or anything after the document is an error.
package jsonread
