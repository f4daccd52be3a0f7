"""`ssd-resnet50 convert`: a Pascal VOC or YOLO data set written as a COCO detection file.

    ssd-resnet50 convert VOCdevkit/VOC2012 --from voc --to coco --split val --out voc2012_val.json
    ssd-resnet50 convert shapes/data.yaml --from yolo --to coco --out shapes_train.json

The file names in the output are relative to the images folder it prints: pass that folder
as `--images` to `eval` or `train`. VOC's difficult boxes become `iscrowd: 1` (ignored by COCO's
evaluation, never training targets); YOLO class k becomes category id k + 1.
"""
import os

from ..training.datasets import detect_format, open_source, write_coco

SUMMARY = "write a Pascal VOC or YOLO data set as a COCO detection file"


def add_arguments(parser):
    parser.add_argument("path", help="VOCdevkit year folder, VOC split .txt or folder of .xml; YOLO data.yaml "
                                     "or its folder")
    parser.add_argument("--from", dest="source_format", choices=("voc", "yolo"),
                        help="the input format (default: told from the path)")
    parser.add_argument("--to", choices=("coco",), default="coco", help="the output format (coco)")
    parser.add_argument("--out", required=True, metavar="JSON", help="where the COCO file goes")
    parser.add_argument("--images", metavar="DIR", help="VOC: the images' folder (default: the layout's)")
    parser.add_argument("--split", default="train",
                        help="which split of a VOCdevkit folder or data.yaml (default %(default)s)")
    parser.add_argument("--classes", nargs="+", metavar="NAME",
                        help="VOC: every class name, in category id order (default: the names found, sorted); "
                             "YOLO: a subset of data.yaml's names")


def run(args) -> int:
    source_format = args.source_format or detect_format(args.path)
    if source_format == "coco":
        raise ValueError(f"{args.path} is a COCO file already; convert reads VOC or YOLO data sets")
    source = open_source(args.path, args.images, source_format, split=args.split, classes=args.classes,
                         require_boxes=False)
    data = write_coco(source, args.out)
    crowd = sum(ann["iscrowd"] for ann in data["annotations"])
    print(f"wrote {len(data['images'])} images, {len(data['annotations'])} boxes"
          + (f" ({crowd} difficult, as iscrowd 1)" if crowd else "")
          + f" and {len(data['categories'])} categories ({', '.join(c['name'] for c in data['categories'])}) "
          f"to {args.out}; image file names are relative to {os.path.abspath(source.images_dir)}")
    return 0
