/** dfget's backend flags (--storage-*, --hdfs-*, --hf-*, --ms-*), turned into the Download's options for the URL's scheme. */
import { create } from "@bufbuild/protobuf";
import { HDFSSchema, HuggingFaceSchema, ModelScopeSchema, ObjectStorageSchema, type HDFS, type HuggingFace, type ModelScope, type ObjectStorage } from "../gen/common/v2/common_pb.ts";
import { flag, type ParsedArgs } from "../common/config.ts";

/** Schemes whose Download carries object_storage. */
export const OBJECT_STORAGE_SCHEMES = ["s3", "gs", "abs", "oss", "obs", "cos"];

/** The backend flags, for the list of known flags. */
export const SOURCE_FLAGS = [
  "storage-region", "storage-endpoint", "storage-access-key-id", "storage-access-key-secret", "storage-security-token",
  "storage-insecure-skip-verify", "storage-session-token", "storage-credential-path", "storage-predefined-acl",
  "hdfs-delegation-token", "hf-revision", "hf-token", "hf-base-url", "ms-revision", "ms-token", "ms-base-url",
];

/** Help text of the backend flags. */
export const SOURCE_FLAGS_USAGE = `Sources (s3, gs, oss, obs, cos; hdfs; hf; modelscope):
      --storage-region <REGION>           object storage region
      --storage-endpoint <URL>            object storage endpoint (S3-compatible API)
      --storage-access-key-id <ID>        object storage access key ID [env: DFGET_STORAGE_ACCESS_KEY_ID]
      --storage-access-key-secret <KEY>   object storage secret [env: DFGET_STORAGE_ACCESS_KEY_SECRET]
      --storage-session-token <TOKEN>     session token [env: DFGET_STORAGE_SESSION_TOKEN]
      --storage-security-token <TOKEN>    STS security token (OSS)
      --storage-credential-path <PATH>    credential file (GCS)
      --storage-predefined-acl <ACL>      predefined ACL [default: publicRead]
      --storage-insecure-skip-verify      do not verify the endpoint's TLS certificate
      --hdfs-delegation-token <TOKEN>     WebHDFS delegation token [env: DFGET_HDFS_DELEGATION_TOKEN]
      --hf-revision <REV>                 Hugging Face revision [default: main]
      --hf-token <TOKEN>                  Hugging Face token [env: DFGET_HF_TOKEN]
      --hf-base-url <URL>                 Hugging Face endpoint [default: https://huggingface.co]
      --ms-revision <REV>                 ModelScope revision [default: master]
      --ms-token <TOKEN>                  ModelScope token [env: DFGET_MS_TOKEN]
      --ms-base-url <URL>                 ModelScope endpoint [default: https://modelscope.cn]`;

/** The backend options of a Download. */
export interface SourceFlagOptions {
  objectStorage?: ObjectStorage;
  hdfs?: HDFS;
  huggingFace?: HuggingFace;
  modelScope?: ModelScope;
}

function value(args: ParsedArgs, name: string, env?: string): string | undefined {
  const text = flag(args, name) ?? (env ? process.env[env] : undefined);
  return text === "" ? undefined : text;
}

/** The backend options of the flags for a URL: only those of its scheme are set, as dfget does. */
export function sourceOptionsFromFlags(args: ParsedArgs, url: string): SourceFlagOptions {
  const scheme = url.slice(0, Math.max(0, url.indexOf(":"))).toLowerCase();
  if (OBJECT_STORAGE_SCHEMES.includes(scheme)) {
    const insecure = value(args, "storage-insecure-skip-verify");
    return {
      objectStorage: create(ObjectStorageSchema, {
        region: value(args, "storage-region"),
        endpoint: value(args, "storage-endpoint"),
        accessKeyId: value(args, "storage-access-key-id", "DFGET_STORAGE_ACCESS_KEY_ID"),
        accessKeySecret: value(args, "storage-access-key-secret", "DFGET_STORAGE_ACCESS_KEY_SECRET"),
        sessionToken: value(args, "storage-session-token", "DFGET_STORAGE_SESSION_TOKEN"),
        securityToken: value(args, "storage-security-token"),
        credentialPath: value(args, "storage-credential-path"),
        predefinedAcl: value(args, "storage-predefined-acl") ?? "publicRead",
        insecureSkipVerify: insecure !== undefined && insecure !== "false" && insecure !== "0",
      }),
    };
  }
  if (scheme === "hdfs") return { hdfs: create(HDFSSchema, { delegationToken: value(args, "hdfs-delegation-token", "DFGET_HDFS_DELEGATION_TOKEN") }) };
  if (scheme === "hf") {
    return {
      huggingFace: create(HuggingFaceSchema, {
        revision: value(args, "hf-revision") ?? "main",
        token: value(args, "hf-token", "DFGET_HF_TOKEN"),
        baseUrl: value(args, "hf-base-url"),
      }),
    };
  }
  if (scheme === "modelscope") {
    return {
      modelScope: create(ModelScopeSchema, {
        revision: value(args, "ms-revision") ?? "master",
        token: value(args, "ms-token", "DFGET_MS_TOKEN"),
        baseUrl: value(args, "ms-base-url"),
      }),
    };
  }
  return {};
}
