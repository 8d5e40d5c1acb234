"""iPXE's error numbers for signatures and certificates (Linux build).

Each is named as in the iPXE file that raises it (``EACCES_EXPIRED`` of ``crypto/x509.c``...);
the file's id comes from ``include/ipxe/errfile.h`` and the per-file number from the
``__einfo_uniqify`` of its definition. iPXE prints every one of them as its POSIX text
(``Permission denied``...): the error number in the ``https://ipxe.org/...`` link is what tells
the reasons apart, and bootsh explains the reason on stderr.
"""

from __future__ import annotations

from bootsh.ipxe_errors import error_number

ERRFILE_ASN1 = 0x0000E000  # crypto/asn1.c
ERRFILE_X509 = 0x0016E000  # crypto/x509.c
ERRFILE_RSA = 0x0027E000  # crypto/rsa.c
ERRFILE_CMS = 0x002AE000  # crypto/cms.c
ERRFILE_CERT_CMD = 0x004FE000  # hci/commands/cert_cmd.c
ERRFILE_ECDSA = 0x0069E000  # crypto/ecdsa.c

# -- crypto/asn1.c ------------------------------------------------------------------------------
#: ``image_asn1``: the image is neither DER nor PEM (no ASN.1 image type claimed it).
ENOTSUP_ASN1 = error_number("ENOTSUP", ERRFILE_ASN1)
#: ``Empty or underlength cursor``: iPXE's parser met nothing where it wanted an object
#: (a signer identified by subject key identifier instead of issuer and serial number).
EINVAL_ASN1_EMPTY = error_number("EINVAL", ERRFILE_ASN1, 0x01)
#: ``Unsupported algorithm``: a digest or public-key algorithm iPXE does not build in.
ENOTSUP_ALGORITHM = error_number("ENOTSUP", ERRFILE_ASN1, 0x01)
#: ``Inappropriate algorithm``: one iPXE knows, in a place where it cannot serve (RSA-PSS as a
#: certificate's signature algorithm); iPXE has no text for it (``Error 0x3d00e119``).
ENOTTY_ALGORITHM = error_number("ENOTTY", ERRFILE_ASN1, 0x01)

# -- crypto/cms.c -------------------------------------------------------------------------------
EACCES_NON_SIGNING = error_number("EACCES", ERRFILE_CMS, 0x01)
EACCES_NON_CODE_SIGNING = error_number("EACCES", ERRFILE_CMS, 0x02)
EACCES_WRONG_NAME = error_number("EACCES", ERRFILE_CMS, 0x04)
EACCES_NO_SIGNATURES = error_number("EACCES", ERRFILE_CMS, 0x05)
#: ``Unrecognised message type``: not a CMS ``ContentInfo`` of a type iPXE knows.
ENOTSUP_TYPE = error_number("ENOTSUP", ERRFILE_CMS, 0x01)
#: ``cms_verify`` of a message that is not a signature (an ``envelopedData``): iPXE has no
#: text for it (``Error 0x3d2ae019``).
ENOTTY_CMS = error_number("ENOTTY", ERRFILE_CMS)
#: The signer's certificate is not among the signature's certificates.
ENOENT_SIGNER = error_number("ENOENT", ERRFILE_CMS)
#: More certificates or signers than bootsh takes (iPXE would take them until memory ran
#: out): ``Not enough space``, as bootsh's chain depth limit says it.
ENOMEM_CMS = error_number("ENOMEM", ERRFILE_CMS)

# -- crypto/x509.c ------------------------------------------------------------------------------
EACCES_WRONG_ISSUER = error_number("EACCES", ERRFILE_X509, 0x01)
EACCES_NOT_CA = error_number("EACCES", ERRFILE_X509, 0x02)
EACCES_KEY_USAGE = error_number("EACCES", ERRFILE_X509, 0x03)
EACCES_EXPIRED = error_number("EACCES", ERRFILE_X509, 0x04)
EACCES_PATH_LEN = error_number("EACCES", ERRFILE_X509, 0x05)
EACCES_UNTRUSTED = error_number("EACCES", ERRFILE_X509, 0x06)
EACCES_EMPTY = error_number("EACCES", ERRFILE_X509, 0x08)
EACCES_USELESS = error_number("EACCES", ERRFILE_X509, 0x0B)
ENOTSUP_EXTENSION = error_number("ENOTSUP", ERRFILE_X509, 0x02)
EINVAL_ALGORITHM_MISMATCH = error_number("EINVAL", ERRFILE_X509, 0x04)
#: A certificate bootsh's library cannot parse (iPXE's number depends on where its own
#: parser stops; this is x509.c's plain ``Invalid argument``).
EINVAL_CERTIFICATE = error_number("EINVAL", ERRFILE_X509)

# -- crypto/rsa.c, crypto/ecdsa.c ---------------------------------------------------------------
#: ``RSA signature incorrect``: the signature does not match the digest.
EACCES_VERIFY = error_number("EACCES", ERRFILE_RSA, 0x01)
#: An RSA signature whose length is not the key's.
ERANGE_RSA = error_number("ERANGE", ERRFILE_RSA)
#: ``Invalid signature``: an ECDSA signature that does not match.
EINVAL_ECDSA_SIGNATURE = error_number("EINVAL", ERRFILE_ECDSA, 0x05)

# -- hci/commands/cert_cmd.c --------------------------------------------------------------------
#: ``"NAME" : no such certificate``
ENOENT_CERT = error_number("ENOENT", ERRFILE_CERT_CMD)

# -- image/pem.c, core/base64.c -----------------------------------------------------------------
ERRFILE_PEM = 0x00098000  # image/pem.c
ERRFILE_BASE64 = 0x00102000  # core/base64.c
#: A ``-----BEGIN`` line without its ``-----END`` line.
ENOENT_PEM = error_number("ENOENT", ERRFILE_PEM)
#: Text between the PEM markers that is not Base64.
EINVAL_BASE64 = error_number("EINVAL", ERRFILE_BASE64)
