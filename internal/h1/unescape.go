package h1

// AppendUnescaped appends the percent-decoded path to dst. '+' stays '+'
// (it means a space only in form data) and "%2F" becomes '/', as CGI has
// always done; an invalid escape such as "%zz" or a trailing "%" makes ok
// false.
func AppendUnescaped(dst, path []byte) (out []byte, ok bool) {
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c != '%' {
			dst = append(dst, c)
			continue
		}
		if i+2 >= len(path) {
			return dst, false
		}
		hi, lo := hexValue(path[i+1]), hexValue(path[i+2])
		if hi < 0 || lo < 0 {
			return dst, false
		}
		dst = append(dst, byte(hi<<4|lo))
		i += 2
	}
	return dst, true
}
