package scimjson

// Reset makes r a reader of data, as NewReader(data) returns one, keeping
// the scratch its objects and arrays have grown, so that a decoder
// reading many texts one after the other (a log's records) allocates
// neither a Reader nor its scratch for each. Strings read before stay
// valid: they are slices of the previous copy.
func (r *Reader) Reset(data []byte) {
	clear(r.kvs) // left over by a text that failed
	clear(r.elems)
	*r = Reader{b: data, s: string(data), kvs: r.kvs[:0], elems: r.elems[:0]}
}
