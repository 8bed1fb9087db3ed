"""Every outbound auth scheme, by the name provider files use in `signing:`."""

from __future__ import annotations

from modelyard.signing.azure import Azure
from modelyard.signing.baidu_token import BaiduAccessToken
from modelyard.signing.base import SigningScheme
from modelyard.signing.google_oauth import GoogleOAuth
from modelyard.signing.keys import Bearer, HeaderKey, NoSigning
from modelyard.signing.sigv4 import SigV4
from modelyard.signing.spark_url import SparkURL
from modelyard.signing.tc3 import TC3
from modelyard.signing.volc_v4 import VolcV4
from modelyard.signing.zhipu_jwt import ZhipuJWT

SIGNING_SCHEMES: dict[str, SigningScheme] = {
    scheme.name: scheme
    for scheme in (
        Bearer(),
        HeaderKey(),
        Azure(),
        NoSigning(),
        GoogleOAuth(),
        SigV4(),
        TC3(),
        ZhipuJWT(),
        VolcV4(),
        BaiduAccessToken(),
        SparkURL(),
    )
}

__all__ = ["SIGNING_SCHEMES", "SigningScheme"]
