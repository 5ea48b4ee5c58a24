package storage

// davnas's own table of media types, by extension, as nginx and Apache
// ship theirs. Go's mime.TypeByExtension reads the host's database on first
// use (shared-mime-info's globs2, or else /etc/mime.types): 0.8 MiB of heap
// and 5 ms on a Debian host, and answers that differ between a laptop, a
// CI runner and a container image. The types are IANA's where one is
// registered, the common ones elsewhere; text types carry charset=utf-8 as
// Go's mime package writes them. An extension not here is
// application/octet-stream: a browser downloads it rather than guess.

// maxExtLen is the longest extension typeByExt looks up, dot included.
const maxExtLen = 12

// typeByExt returns the media type of an extension (with its dot, in any
// case), or "" when the table has none. It allocates nothing.
func typeByExt(ext string) string {
	if len(ext) < 2 || len(ext) > maxExtLen {
		return ""
	}
	var buf [maxExtLen]byte
	for i := 0; i < len(ext); i++ {
		c := ext[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	switch string(buf[:len(ext)]) {
	// Text and source code: shown by a browser.
	case ".txt", ".text", ".asc", ".log", ".ini", ".conf", ".cfg",
		".py", ".go", ".java", ".c", ".h", ".cc", ".cpp", ".hpp", ".rs", ".rb", ".pl", ".sh",
		".r", ".scala", ".kt", ".swift", ".diff", ".patch", ".tex":
		return "text/plain; charset=utf-8"
	case ".csv":
		return "text/csv; charset=utf-8"
	case ".tsv":
		return "text/tab-separated-values; charset=utf-8"
	case ".md", ".markdown":
		return "text/markdown; charset=utf-8"
	case ".html", ".htm":
		return "text/html; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".xml", ".xsl":
		return "text/xml; charset=utf-8"
	case ".ics":
		return "text/calendar; charset=utf-8"
	case ".vcf":
		return "text/vcard; charset=utf-8"
	case ".vtt":
		return "text/vtt; charset=utf-8"

	// Structured data.
	case ".json", ".map":
		return "application/json"
	case ".geojson":
		return "application/geo+json"
	case ".ipynb":
		return "application/x-ipynb+json"
	case ".yaml", ".yml":
		return "application/yaml"
	case ".toml":
		return "application/toml"
	case ".sql":
		return "application/sql"
	case ".parquet":
		return "application/vnd.apache.parquet"
	case ".h5", ".hdf5":
		return "application/x-hdf5"
	case ".nc":
		return "application/x-netcdf"
	case ".wasm":
		return "application/wasm"
	case ".xhtml":
		return "application/xhtml+xml"
	case ".rss":
		return "application/rss+xml"
	case ".atom":
		return "application/atom+xml"
	case ".gpx":
		return "application/gpx+xml"
	case ".kml":
		return "application/vnd.google-earth.kml+xml"
	case ".kmz":
		return "application/vnd.google-earth.kmz"
	case ".srt":
		return "application/x-subrip"

	// Documents.
	case ".pdf":
		return "application/pdf"
	case ".rtf":
		return "application/rtf"
	case ".ps", ".eps":
		return "application/postscript"
	case ".epub":
		return "application/epub+zip"
	case ".doc":
		return "application/msword"
	case ".xls":
		return "application/vnd.ms-excel"
	case ".ppt":
		return "application/vnd.ms-powerpoint"
	case ".docx":
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	case ".xlsx":
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case ".pptx":
		return "application/vnd.openxmlformats-officedocument.presentationml.presentation"
	case ".odt":
		return "application/vnd.oasis.opendocument.text"
	case ".ods":
		return "application/vnd.oasis.opendocument.spreadsheet"
	case ".odp":
		return "application/vnd.oasis.opendocument.presentation"
	case ".odg":
		return "application/vnd.oasis.opendocument.graphics"
	case ".eml":
		return "message/rfc822"
	case ".mbox":
		return "application/mbox"

	// Archives and packages.
	case ".zip":
		return "application/zip"
	case ".gz", ".tgz":
		return "application/gzip"
	case ".tar":
		return "application/x-tar"
	case ".bz2":
		return "application/x-bzip2"
	case ".xz":
		return "application/x-xz"
	case ".zst":
		return "application/zstd"
	case ".lz4":
		return "application/x-lz4"
	case ".7z":
		return "application/x-7z-compressed"
	case ".rar":
		return "application/vnd.rar"
	case ".jar":
		return "application/java-archive"
	case ".deb":
		return "application/vnd.debian.binary-package"
	case ".rpm":
		return "application/x-rpm"
	case ".apk":
		return "application/vnd.android.package-archive"
	case ".dmg":
		return "application/x-apple-diskimage"

	// Keys and certificates.
	case ".pem", ".crt", ".der":
		return "application/x-x509-ca-cert"
	case ".cer":
		return "application/pkix-cert"
	case ".p12", ".pfx":
		return "application/pkcs12"
	case ".sig":
		return "application/pgp-signature"
	case ".gpg":
		return "application/pgp-encrypted"
	case ".torrent":
		return "application/x-bittorrent"

	// Images.
	case ".png":
		return "image/png"
	case ".jpg", ".jpeg", ".jpe":
		return "image/jpeg"
	case ".gif":
		return "image/gif"
	case ".webp":
		return "image/webp"
	case ".avif":
		return "image/avif"
	case ".svg":
		return "image/svg+xml"
	case ".ico":
		return "image/vnd.microsoft.icon"
	case ".bmp":
		return "image/bmp"
	case ".tif", ".tiff":
		return "image/tiff"
	case ".heic":
		return "image/heic"
	case ".heif":
		return "image/heif"
	case ".jxl":
		return "image/jxl"
	case ".jp2":
		return "image/jp2"
	case ".psd":
		return "image/vnd.adobe.photoshop"

	// Audio.
	case ".mp3":
		return "audio/mpeg"
	case ".wav":
		return "audio/wav"
	case ".ogg", ".oga", ".opus":
		return "audio/ogg"
	case ".flac":
		return "audio/flac"
	case ".m4a":
		return "audio/mp4"
	case ".aac":
		return "audio/aac"
	case ".mid", ".midi":
		return "audio/midi"
	case ".weba":
		return "audio/webm"
	case ".mka":
		return "audio/x-matroska"

	// Video.
	case ".mp4", ".m4v":
		return "video/mp4"
	case ".mov", ".qt":
		return "video/quicktime"
	case ".webm":
		return "video/webm"
	case ".mkv":
		return "video/x-matroska"
	case ".avi":
		return "video/x-msvideo"
	case ".mpeg", ".mpg":
		return "video/mpeg"
	case ".ogv":
		return "video/ogg"
	case ".3gp":
		return "video/3gpp"
	case ".flv":
		return "video/x-flv"
	case ".wmv":
		return "video/x-ms-wmv"

	// Fonts.
	case ".woff":
		return "font/woff"
	case ".woff2":
		return "font/woff2"
	case ".ttf":
		return "font/ttf"
	case ".otf":
		return "font/otf"
	}
	return ""
}
