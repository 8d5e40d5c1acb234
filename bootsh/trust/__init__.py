"""Code signing: detached CMS signatures, X.509 chains, trusted roots and the certificate store.

What iPXE's ``crypto/cms.c``, ``crypto/x509.c``, ``crypto/certstore.c``, ``crypto/rootcert.c``
and ``usr/imgtrust.c`` do, with iPXE's rules and error numbers, and every cryptographic step
taken by a library: `cryptography <https://cryptography.io>`_ parses certificates, checks
signatures and runs its X.509 path verifier over every chain bootsh accepts; `asn1crypto
<https://github.com/wbond/asn1crypto>`_ reads the CMS ``SignedData`` structure (cryptography
51 can sign PKCS#7 but has no API that exposes a signature's ``SignerInfo``). Both load only
when a signature or certificate is looked at, never at start-up.

- ``numbers``: iPXE's error numbers for the trust code;
- ``anchors``: the trusted root fingerprints, fixed at start-up (``--trust``, ``BOOTSH_TRUST``,
  ``trust`` in the config file);
- ``formats``: DER and PEM images (iPXE's ``der.c``/``pem.c`` probes and extraction);
- ``certs``: one certificate as both libraries see it, and the shell's certificate store;
- ``cms``: a signature's certificates and signers;
- ``chain``: iPXE's chain completion and validation, then cryptography's path verifier;
- ``verify``: ``imgverify`` itself: the verdict, its error number and the explanation.

Layer: may import ``lang``, ``nics``, ``net`` and ``boot`` (an image is what gets verified);
the host and ``bootsh.api`` import it; nothing below it does.
"""
