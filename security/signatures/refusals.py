"""Every signature refusal: a stable code, an English and a Vietnamese sentence.

`refuse(code, why=..., why_vi=...)` builds the error; `why` says what was found in this
package (never key material). The list is the reference for docs/security.md.
"""

from __future__ import annotations

from core.errors import FieldError, SignatureRefused, SignerNotSender

# code -> (English, Vietnamese)
CATALOGUE: dict[str, tuple[str, str]] = {
    "signature_missing": (
        "the sending system's policy requires a signed package, and this one is not signed",
        "chính sách của hệ thống gửi yêu cầu gói tin có chữ ký số, gói tin này không có chữ ký"),
    "signature_invalid": (
        "the signature does not verify",
        "chữ ký số không hợp lệ"),
    "signature_digest_mismatch": (
        "the package was changed after it was signed (the digest does not match)",
        "gói tin đã bị thay đổi sau khi ký (giá trị băm không khớp)"),
    "signature_malformed": (
        "the Signature element is not a well-formed XML signature",
        "phần tử Signature không đúng cấu trúc chữ ký XML"),
    "signature_algorithm_refused": (
        "the signature uses an algorithm the sending system's policy does not allow",
        "chữ ký dùng thuật toán không được chính sách của hệ thống gửi cho phép"),
    "signature_not_whole_package": (
        "the signature does not cover the whole package",
        "chữ ký không bao trùm toàn bộ gói tin"),
    "signature_multiple": (
        "the package carries more than one signature and co-signatures are not allowed",
        "gói tin có nhiều hơn một chữ ký trong khi không cho phép đồng ký"),
    "signature_reference_external": (
        "the signature refers to something outside the package; the hub never fetches it",
        "chữ ký tham chiếu tới nội dung ngoài gói tin; trục không bao giờ tải nội dung đó"),
    "signature_misplaced": (
        "the signature is not where edXML puts it (a child of edXMLHeader)",
        "chữ ký không nằm đúng vị trí của edXML (phần tử con của edXMLHeader)"),
    "signature_transform_refused": (
        "the signature uses a transform that could leave part of the package unsigned",
        "chữ ký dùng phép biến đổi có thể để một phần gói tin không được ký"),
    "signature_unsigned_content": (
        "the Signature element holds content its references do not cover",
        "phần tử Signature chứa nội dung không được ký"),
    "signature_text_split": (
        "text in the signed package is split by a comment or processing instruction",
        "văn bản trong gói tin đã ký bị chia cắt bởi chú thích hoặc chỉ thị xử lý"),
    "signature_package_too_large": (
        "the package has a text node over 10 MB, too large to verify its signature",
        "gói tin có nút văn bản lớn hơn 10 MB, quá lớn để kiểm tra chữ ký"),
    "certificate_missing": (
        "the signature carries no X.509 certificate (a bare key proves no identity)",
        "chữ ký không kèm chứng thư số X.509 (khóa trần không chứng minh danh tính)"),
    "certificate_malformed": (
        "a certificate in the signature cannot be read",
        "không đọc được chứng thư số trong chữ ký"),
    "certificate_untrusted": (
        "the signing certificate does not chain to a trusted authority",
        "chứng thư số ký không được cấp bởi tổ chức chứng thực tin cậy"),
    "certificate_expired": (
        "the signing certificate has expired",
        "chứng thư số ký đã hết hạn"),
    "certificate_not_yet_valid": (
        "the signing certificate is not valid yet",
        "chứng thư số ký chưa có hiệu lực"),
    "certificate_revoked": (
        "the signing certificate has been revoked",
        "chứng thư số ký đã bị thu hồi"),
    "certificate_revocation_unknown": (
        "the revocation status of the signing certificate cannot be established",
        "không xác định được tình trạng thu hồi của chứng thư số ký"),
    "certificate_key_usage": (
        "the signing certificate is not for digital signatures",
        "chứng thư số ký không dùng cho chữ ký số"),
    "certificate_key_weak": (
        "the signing key is too weak",
        "khóa ký quá yếu"),
    "certificate_not_sender": (
        "the signing certificate does not belong to the sending organisation",
        "chứng thư số ký không thuộc về cơ quan gửi"),
    "jws_malformed": (
        "the JWS is not a well-formed JSON Web Signature",
        "JWS không đúng cấu trúc chữ ký JSON Web Signature"),
    "jws_invalid": (
        "the JWS does not verify over the package",
        "JWS không hợp lệ đối với gói tin"),
}


def refuse(code: str, why: str = "", why_vi: str = "", path: str = "/") -> SignatureRefused:
    """The refusal for `code`, with what was found in this package."""
    english, vietnamese = CATALOGUE[code]
    detail = f"{english}: {why}" if why else english
    detail_vi = f"{vietnamese}: {why_vi or why}" if (why_vi or why) else vietnamese
    cls = SignerNotSender if code == "certificate_not_sender" else SignatureRefused
    return cls(detail, code=code, detail_vi=detail_vi,
               errors=[FieldError(path, detail, detail_vi)])
